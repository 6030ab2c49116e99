"""Escalation triggers (督办触发原因), declared once.

A trigger is what opens an escalation: a deadline missed, a hollow report, a plan returned too often …
Its declaration here says what it is called, what a definition may configure for it, what its records
are about and how they are keyed. Everything that lists triggers is built from ``TRIGGERS``: the YAML
schema of ``escalation.triggers`` (``domain.definitions.EscalationTriggers``), ``TRIGGER_LABELS``, the
API's filter values (``TriggerKey``) and the escalation mail templates. The code that fires a trigger
is one module of ``tasks/triggers/``, registered under the same key.

Keys (unique in the escalation table and in the outbox, so a repeated tick or request records nothing
twice):

- a step's key is ``<trigger>:<subject id>:<count>`` (``escalation_key``): the subject is the obligation,
  submission or rectification the trigger watches (``TriggerDeclaration.subject``), the count is the
  ladder level reached by a trigger that climbs, otherwise the number of the event (a report's round,
  a plan's returns, a village's relapses; ``TriggerDeclaration.counts``);
- a step's mail to one user is ``escalation:<step key>:<user id>`` (``escalation_mail_key``); a trigger
  with a ``notice`` mails its own template, named like the trigger, keyed ``<step key>:<user id>``; the mail
  announcing the case the county opened on a step after checking it is ``case:<step key>:<user id>``
  (``case_mail_key``). ``parse_escalation_mail_key`` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast

from pydantic import Field, create_model, model_validator

from domain.hollow import DEFAULT_BOILERPLATE, DEFAULT_MIN_CHARS
from domain.schema import FieldType, Key, Strict, Text

if TYPE_CHECKING:
    from domain.definitions import Form

# ---- settings: what a definition may configure per trigger -------------------------------------------


class TriggerSpec(Strict):
    """One escalation trigger: on or off, and the ladder level it opens at (default: the first)."""

    enabled: bool = True
    level: Key | None = Field(default=None, description="ladder level key the escalation opens at")

    def problem(self, forms: Sequence[Form]) -> tuple[str, str] | None:
        """A setting naming something the definition's forms lack, as (setting, message); None if none."""
        return None


class HollowTextSpec(TriggerSpec):
    """A trigger that judges written sections with the one hollow-text rule (``domain.hollow``)."""

    forms: list[Key] | None = Field(default=None, description="forms checked (default: every form)")
    boilerplate: list[Text] = Field(default_factory=lambda: list(DEFAULT_BOILERPLATE))
    min_chars: int = Field(default=DEFAULT_MIN_CHARS, ge=0, le=200,
                           description="a section with fewer meaningful characters is hollow")

    def problem(self, forms: Sequence[Form]) -> tuple[str, str] | None:
        known = {f.key for f in forms}
        unknown = next((ref for ref in self.forms or [] if ref not in known), None)
        return ("forms", f"unknown form '{unknown}'; known: {sorted(known)}") if unknown else None

    def checks(self, form_key: str) -> bool:
        """Whether this trigger judges material of form ``form_key``."""
        return self.enabled and (self.forms is None or form_key in self.forms)


class ZeroReportSpec(HollowTextSpec):
    """零上报 (000 §四(三)): a required section empty, "无" or boilerplate only, or no village listed
    where the township has known weak villages."""


class HollowReportSpec(HollowTextSpec):
    """内容空泛 (000 §四(二)(三)): a report with a required section that says nothing is sent back to its township
    for completion, the sections named. A reminder ladder: the first hollow round opens at ``level`` (default:
    the first), each further hollow round of the same report one level higher; a level that opens a case
    waits for the county's check."""


class UnverifiedSpec(TriggerSpec):
    """不经调查核实，随意上报 (000 §四(三)): a report whose ``field`` (a yes/no field) says it was not
    verified, or which a county reviewer marks unverified."""

    field: Key | None = Field(default=None, description="a boolean field: false means not verified")

    def problem(self, forms: Sequence[Form]) -> tuple[str, str] | None:
        if self.field is None or any(f.key == self.field and f.type is FieldType.BOOLEAN for form in forms for f in form.fields):
            return None
        return "field", f"no yes/no (boolean) field '{self.field}' in any form"


class ClimbSpec(TriggerSpec):
    """A trigger the tick climbs as its subject stays late: it opens at ``level`` (default: the first), that
    level coming ``after_workdays`` working days after the deadline (default: the ladder's first delay, when
    催办 would have come); each later level comes its own ``after_workdays`` after the previous one."""

    after_workdays: int | None = Field(default=None, ge=0, le=366,
                                       description="working days after the deadline the opening level comes")


class MeasuresOverdueSpec(ClimbSpec):
    """工作进展缓慢、整顿措施不力 (004 §一.3): a village still rectifying after its plan's time limit. The
    document says such a township's main leader is interviewed directly (直接约谈): a definition opens it at
    its interview level with ``level``."""

    plan_form: Key = "village_plan"
    time_limit_field: Key = "time_limit"

    def problem(self, forms: Sequence[Form]) -> tuple[str, str] | None:
        plan = next((form for form in forms if form.key == self.plan_form), None)
        if not self.enabled or plan is None:
            return None
        if any(f.key == self.time_limit_field and f.type is FieldType.DATE for f in plan.fields):
            return None
        return "time_limit_field", f"form '{plan.key}' has no date field '{self.time_limit_field}'"


def text_checks_overlap(specs: Iterable[tuple[str, TriggerSpec]], forms: Sequence[Form]) -> tuple[str, str] | None:
    """A form judged by two enabled hollow-text triggers (a report both sent back and held as 零上报), as
    (setting, message); None when each form has one judge at most."""
    judged: dict[str, str] = {}
    for key, spec in specs:
        if not isinstance(spec, HollowTextSpec):
            continue
        for form in forms:
            if spec.checks(form.key):
                if form.key in judged:
                    return f"{key}.forms", f"form '{form.key}' is judged by '{judged[form.key]}' already; name the forms of each"
                judged[form.key] = key
    return None


# ---- the declaration ------------------------------------------------------------------------------------

S = TypeVar("S", bound=TriggerSpec)
Subject = Literal["obligation", "submission", "rectification", "leader"]
Count = Literal["level", "round", "returns", "relapses"]


@dataclass(frozen=True)
class TriggerDeclaration(Generic[S]):
    """What a trigger is, for the schema, the labels and the keys (its firing lives in ``tasks/triggers/``).

    ``counts`` is what the last number of its step keys counts: ``level`` for a trigger that climbs the
    ladder with time (the tick climbs it; its last level opens the accountability case itself), otherwise
    the event it opens at one level on (a case then waits for the county's check, 经县委组织部检查核实).
    """

    key: str
    label: str  # zh-CN, on pages, ledgers and mails
    settings: type[S]  # its mapping under ``escalation.triggers`` in a definition
    subject: Subject  # what its steps are about: the id in their keys
    counts: Count
    source: str  # the seed document the rule comes from
    enabled_by_default: bool = True
    mail_template: str = "escalation_trigger"  # the template of its steps' mails
    link: str = "/escalations/{id}"  # where its mails point (``{id}``: the step)
    notice: str | None = None  # label of the notice it mails instead (template and key named like the trigger)

    @property
    def climbs(self) -> bool:
        return self.counts == "level"

    def defaults(self) -> S:
        """Its settings in a definition that does not mention it."""
        return self.settings() if self.enabled_by_default else self.settings(enabled=False)

    def step_key(self, subject_id: int, count: int) -> str:
        return escalation_key(self.key, subject_id, count)


TRIGGERS: dict[str, TriggerDeclaration[Any]] = {}
"""Every trigger by key, in the order they fire (the tick climbs them, an event runs them, in this order)."""


def declare(trigger: TriggerDeclaration[S]) -> TriggerDeclaration[S]:
    if trigger.key in TRIGGERS:
        raise ValueError(f"trigger '{trigger.key}' declared twice")
    TRIGGERS[trigger.key] = trigger
    return trigger


OVERDUE = declare(TriggerDeclaration(
    key="overdue", label="逾期未报", settings=ClimbSpec, subject="obligation", counts="level", source="004 §一.3",
    mail_template="escalation", link="/todos"))
ZERO_REPORT = declare(TriggerDeclaration(
    key="zero_report", label="零上报", settings=ZeroReportSpec, subject="submission", counts="round", source="000 §四(三)"))
HOLLOW_REPORT = declare(TriggerDeclaration(
    key="hollow_report", label="内容空泛", settings=HollowReportSpec, subject="submission", counts="round",
    source="000 §四(二)(三)", enabled_by_default=False))
UNVERIFIED = declare(TriggerDeclaration(
    key="unverified", label="未经调查核实", settings=UnverifiedSpec, subject="submission", counts="round",
    source="000 §四(三)"))
RETURNS_EXCEEDED = declare(TriggerDeclaration(
    key="returns_exceeded", label="多次退回", settings=TriggerSpec, subject="submission", counts="returns",
    source="004 §一.2", notice="退回超限"))
MEASURES_OVERDUE = declare(TriggerDeclaration(
    key="measures_overdue", label="整改措施逾期", settings=MeasuresOverdueSpec, subject="rectification", counts="level",
    source="004 §一.3", enabled_by_default=False))
RELAPSE = declare(TriggerDeclaration(
    key="relapse", label="反复回潮", settings=TriggerSpec, subject="rectification", counts="relapses", source="004 §三.3",
    enabled_by_default=False))
# 003 §三(一) "县领导每半年到挂钩联系点不少于3次": after each half-year the tick escalates a county leader below the
# minimum to the 县委基层办. Its step key names the leader's code and the half-year (``leader_visits:QX01-L1:2027H1``,
# ``domain.work_records.leader_visits_key``), not an id and a count, and its mails go to the county only.
LEADER_VISITS = declare(TriggerDeclaration(
    key="leader_visits", label="县领导到点不足", settings=TriggerSpec, subject="leader", counts="level",
    source="003 §三(一)", enabled_by_default=False, link="/leader-visits"))

TRIGGER_LABELS = {key: trigger.label for key, trigger in TRIGGERS.items()}
TRIGGER_KEYS = tuple(TRIGGERS)
if TYPE_CHECKING:
    TriggerKey = str
else:
    TriggerKey = Literal[TRIGGER_KEYS]  # Literal["overdue", "zero_report", …]: the values the API accepts


# ---- the YAML schema of ``escalation.triggers`` -----------------------------------------------------------


def _trigger(value: Any) -> Any:
    return {"enabled": value} if isinstance(value, bool) else value


class TriggerSettings(Strict):
    """Each trigger is ``true``/``false`` or a mapping with its settings (``enabled``, ``level``, …)."""

    @model_validator(mode="before")
    @classmethod
    def _booleans(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: _trigger(value) for key, value in data.items()}
        return data

    def of(self, trigger: TriggerDeclaration[S]) -> S:
        """The settings of one trigger, typed by its declaration."""
        return cast(S, getattr(self, trigger.key))

    def specs(self) -> Iterator[tuple[str, TriggerSpec]]:
        """Every trigger's settings, by key."""
        for key in type(self).model_fields:
            yield key, getattr(self, key)

    if TYPE_CHECKING:
        def __getattr__(self, key: str) -> Any: ...  # one field per declared trigger


def settings_model(triggers: Mapping[str, TriggerDeclaration[Any]]) -> type[TriggerSettings]:
    """The model of ``escalation.triggers``: one field per trigger, named by its key, defaulting to its defaults."""
    fields: dict[str, Any] = {key: (t.settings, Field(default_factory=t.defaults)) for key, t in triggers.items()}
    return create_model("EscalationTriggers", __base__=TriggerSettings, __doc__=TriggerSettings.__doc__, **fields)


# ---- keys -------------------------------------------------------------------------------------------------

ESCALATION_MAIL = "escalation"  # the first part of the outbox key of a step's mail
CASE_MAIL = "case"  # … of the mail announcing the case the county opened on a step after checking it
ESCALATION_MAIL_LABELS = {ESCALATION_MAIL: "督办升级", CASE_MAIL: "立案问责"} | {
    key: t.notice for key, t in TRIGGERS.items() if t.notice}
"""What an escalation mail is, by the first part of its outbox key (the kinds ``parse_escalation_mail_key`` reads)."""
ESCALATION_MAIL_TEMPLATES = tuple(dict.fromkeys(key if t.notice else t.mail_template for key, t in TRIGGERS.items()))


@dataclass(frozen=True)
class EscalationKey:
    """A step's key read back: ``overdue:17:2`` is obligation 17 at the ladder's second level."""

    trigger: str
    subject_id: int
    count: int

    @property
    def declaration(self) -> TriggerDeclaration[Any]:
        return TRIGGERS[self.trigger]

    @property
    def subject(self) -> Subject:
        """What ``subject_id`` names: an obligation, a submission or a rectification."""
        return self.declaration.subject

    @property
    def level(self) -> int | None:
        """The ladder level the key records, for a trigger that climbs; None for the others."""
        return self.count if self.declaration.climbs else None


@dataclass(frozen=True)
class EscalationMail:
    """An escalation mail's outbox key read back."""

    kind: str  # the key's first part: ``escalation``, ``case``, or the trigger whose notice it is (ESCALATION_MAIL_LABELS)
    step: EscalationKey
    user_id: int


def escalation_key(trigger: str, subject_id: int, count: int) -> str:
    """The key of one step: the trigger, what it is about, and its level or event number."""
    return f"{trigger}:{subject_id}:{count}"


def parse_escalation_key(key: str) -> EscalationKey:
    """Read a step's key; ValueError when it is not one of a declared trigger."""
    parts = key.split(":")
    if len(parts) != 3 or parts[0] not in TRIGGERS:
        raise ValueError(f"not an escalation key: {key!r}")
    return EscalationKey(trigger=parts[0], subject_id=int(parts[1]), count=int(parts[2]))


def escalation_mail_key(step_key: str, user_id: int) -> str:
    """The outbox key of a step's mail to one user (of its notice, for a trigger that mails a notice)."""
    trigger = TRIGGERS[parse_escalation_key(step_key).trigger]
    return f"{step_key}:{user_id}" if trigger.notice else f"{ESCALATION_MAIL}:{step_key}:{user_id}"


def case_mail_key(step_key: str, user_id: int) -> str:
    """The outbox key of the mail to one user announcing the case the county opened on a step (立案问责)."""
    return f"{CASE_MAIL}:{step_key}:{user_id}"


def parse_escalation_mail_key(key: str) -> EscalationMail | None:
    """The step and recipient of an escalation mail from its outbox key; None for every other mail."""
    parts = key.split(":")
    kind = parts[0]
    if kind in (ESCALATION_MAIL, CASE_MAIL):
        parts = parts[1:]
    elif kind not in ESCALATION_MAIL_LABELS:
        return None
    if len(parts) != 4:
        return None
    try:
        return EscalationMail(kind=kind, step=parse_escalation_key(":".join(parts[:3])), user_id=int(parts[3]))
    except ValueError:
        return None

