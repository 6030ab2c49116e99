"""A delivery's own connection settings (PostgreSQL: autocommit, no WAL-flush wait) do not leak into the pool."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.clock import CHINA_TZ
from models import OutboxMessage
from notifications.delivery import DeliveryStats, deliver_pending
from notifications.mailer import MemoryMailer
from notifications.outbox import message_id_for

NOW = dt.datetime(2027, 3, 20, 9, 30, tzinfo=CHINA_TZ)


async def test_the_pool_gets_its_connection_back_as_it_lent_it(engine: Engine, backend: str) -> None:
    with Session(engine) as s:
        for i in range(3):
            s.add(OutboxMessage(key=f"c:{i}", message_id=message_id_for(f"c:{i}"), to_addr=f"u{i}@example.cn",
                                subject="s", body_text="t", body_html="<p>h</p>", created_at=NOW))
        s.commit()
    with engine.connect() as conn:
        before = (conn.get_isolation_level(),
                  conn.exec_driver_sql("SHOW synchronous_commit").scalar() if backend == "postgresql" else None)
    assert await deliver_pending(engine, MemoryMailer(), NOW, holder="w") == DeliveryStats(sent=3)
    assert engine.pool.checkedout() == 0
    with engine.connect() as conn:  # the pool's one idle connection: the one the delivery used
        after = (conn.get_isolation_level(),
                 conn.exec_driver_sql("SHOW synchronous_commit").scalar() if backend == "postgresql" else None)
    assert after == before
    if backend == "postgresql":
        assert before == ("READ COMMITTED", "on")
