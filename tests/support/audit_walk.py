"""Audit completeness: a change of rows must come with an audit event (shared by the route and CLI walks)."""

from __future__ import annotations

from tests.support.databases import changed_tables

BOOKKEEPING = frozenset({"web_sessions", "api_tokens", "outbox", "leases", "idempotency_keys"})
"""Tables whose rows record how a change was made or announced (a sign-in, a mail queued, the scheduler's
lease), not the change itself."""


def unaudited_change(before: dict[str, list[str]], after: dict[str, list[str]]) -> str | None:
    """What changed without an audit event between two ``db_snapshot``s, or None when nothing did or the change
    came with its event."""
    changed = set(changed_tables(before, after)) - BOOKKEEPING
    if not changed or "audit_events" in changed:
        return None
    return f"changed {sorted(changed)} without an audit event"
