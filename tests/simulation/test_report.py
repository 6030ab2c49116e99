"""Reading escalation mails' outbox keys (the summary and the invariants count them)."""

from __future__ import annotations

from simulation import parse_escalation_key
from simulation.report import EscalationMail


def test_escalation_keys_name_their_trigger_item_and_level() -> None:
    assert parse_escalation_key("escalation:overdue:12:3:45") == EscalationMail("overdue", 12, 3)
    assert parse_escalation_key("escalation:measures_overdue:4:2:45") == EscalationMail("measures_overdue", 4, 2)
    # the number after a submission's id is its round, not a level
    assert parse_escalation_key("escalation:zero_report:7:1:45") == EscalationMail("zero_report", 7, None)
    for other in ("reminder:12:3:45", "request:12:45", "digest:45:2027-03-20", "returns_exceeded:7:3:1"):
        assert parse_escalation_key(other) is None
