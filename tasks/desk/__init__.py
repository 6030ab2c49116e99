"""The 督办 desk (issue 18): items the office assigns outside any campaign definition (交办事项), signing for
them (签收), extension requests (延期申请), traffic lights, the hand-issued 三色督办单 and the periodic
bulletins (定期通报), 004_7c184efb1f3c43f7.txt §一.3.

The design reuses the campaign machinery instead of copying it. Two definitions shipped in ``definitions/``
are *containers* (``desk: true``, never launched): ``supervision_desk`` holds the 办结报告 and feedback
deadlines with the desk's ladder (催办 → 督办 → 约谈 → 通报) and review chains, ``supervision_desk_signing``
holds the sign-for deadlines with their own short ladder (催签收 → 督促签收, the office told from the first
step). Each township has one container campaign of each per year. Assigning an item writes, per recipient,
an ``Obligation`` in each container (plus one per feedback period when feedback is periodic); from then on
the tick opens them (the draft 办结报告 and the request mail), reminds, marks them missed and climbs the
ladders; the 办结报告 goes through ``tasks.review`` like any report — a return is 退办, the final approval is
办结销号 — and the obligations ledger, dashboard and to-do list show them like any deadline.

* :mod:`tasks.desk.items` — assigning (one township, several, or all), the containers, signing;
* :mod:`tasks.desk.signing` — 签收 of campaign deadlines whose rule asks for it (``acknowledge: true``);
* :mod:`tasks.desk.extensions` — the two-step extension decision that moves the deadline;
* :mod:`tasks.desk.urges` — the 三色督办单, numbered and mailed like the ladder's documents;
* :mod:`tasks.desk.bulletins` — the monthly bulletin: drafted by the tick, edited and published by the office;
* :mod:`tasks.desk.settings` — the desk's settings where the documents are silent.
"""

import datetime as dt

from sqlmodel import Session

from tasks.desk.settings import desk_settings


def draft_bulletins(session: Session, now: dt.datetime) -> int:
    """The tick's step (``tasks.tick.TICK``): on the bulletin day, draft last month's bulletin once."""
    from tasks.desk import bulletins  # the desk's modules load on use: tasks.reads imports the settings above

    return bulletins.draft_due(session, now)


def sign_for_opened(session: Session, now: dt.datetime) -> int:
    """The tick's step: the sign-for deadlines of campaign deadlines that opened and whose rule asks for one."""
    from tasks.desk import signing

    return signing.sign_for_opened(session, now)


__all__ = ["desk_settings", "draft_bulletins", "sign_for_opened"]
