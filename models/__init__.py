"""SQLModel tables and API schemas. Importing this package registers every table."""

from models.accounts import ApiToken, User, UserScope, WebSession
from models.cadres import Cadre, CadreIn, CadrePublic, Leader, LeaderIn, LeaderLevel, LeaderPublic
from models.campaign import (
    BatchItem,
    BatchLaunchRequest,
    BatchResult,
    CalendarYear,
    Campaign,
    CampaignPublic,
    CampaignSummary,
    IdempotencyRecord,
    LateDeadlinePublic,
    LaunchedCampaign,
    LaunchRequest,
    Obligation,
    ObligationPublic,
    Stage,
    StagePublic,
)
from models.channels import ChannelPrefsIn, ChannelRobot, RobotIn, UserChannels
from models.definitions import DefinitionVersion
from models.desk import AssignedItem, Bulletin, DeskUrge, ExtensionRequest, ItemRecipient
from models.org import OrgKind, OrgUnit, OrgUnitIn, OrgUnitPublic
from models.review import (
    AccountabilityCase,
    Attachment,
    AuditEvent,
    Escalation,
    GateOverride,
    Lease,
    OfficialDocument,
    OutboxMessage,
    ReminderLog,
    Review,
    Submission,
    SubmissionRound,
    Veto,
    VillageRectification,
)
from models.stationing import (
    Acceptance,
    CadreAssessment,
    DiaryEntry,
    LeaderVisit,
    PlanStatus,
    Programme,
    StationingPlan,
    StationingTeam,
    TeamMember,
    TeamMonthlyRecord,
    UnitAssessment,
    UnitReport,
)

__all__ = [
    "DefinitionVersion",
    "ChannelPrefsIn", "ChannelRobot", "RobotIn", "UserChannels",
    "AssignedItem", "Bulletin", "DeskUrge", "ExtensionRequest", "ItemRecipient",
    "Acceptance", "CadreAssessment", "DiaryEntry", "LeaderVisit", "PlanStatus", "Programme", "StationingPlan",
    "StationingTeam", "TeamMember", "TeamMonthlyRecord", "UnitAssessment", "UnitReport",
    "Cadre", "CadreIn", "CadrePublic", "Leader", "LeaderIn", "LeaderLevel", "LeaderPublic",
    "BatchItem", "BatchLaunchRequest", "LateDeadlinePublic", "LaunchedCampaign", "BatchResult", "CalendarYear", "Campaign", "CampaignPublic",
    "CampaignSummary", "IdempotencyRecord", "LaunchRequest", "Obligation", "ObligationPublic",
    "OrgKind", "OrgUnit", "OrgUnitIn", "OrgUnitPublic", "Stage", "StagePublic",
    "ApiToken", "User", "UserScope", "WebSession", "Attachment", "AuditEvent", "Escalation", "GateOverride", "OutboxMessage",
    "Lease", "OfficialDocument", "AccountabilityCase", "ReminderLog", "Review", "Submission", "SubmissionRound", "Veto", "VillageRectification",
]
