"""Prometheus metrics of one duban process (``/metrics``), on a registry of duban's own.

Counted where they happen: requests (the middleware in ``api.observability``), the tick's steps
(``tasks.tick.run_transaction``), deliveries (``flows.tick.deliver_notifications``) and SQLite busy answers
(``api.errors``). The outbox and the scheduler's leases are read from the database at each scrape, so every
process reports the same numbers.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter("duban_http_requests_total", "HTTP requests by route template, method and status",
                   ("method", "route", "status"), registry=REGISTRY)
REQUEST_SECONDS = Histogram("duban_http_request_duration_seconds", "HTTP request latency by route template",
                            ("method", "route"), registry=REGISTRY,
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
TICK_STEP_SECONDS = Histogram("duban_tick_step_duration_seconds", "Duration of each step of the tick", ("step",),
                              registry=REGISTRY, buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0))
TICK_COUNTS = Counter("duban_tick_actions_total",
                      "What the tick did, by count (windows_opened, reminders, escalations, …)", ("count",),
                      registry=REGISTRY)
TICK_LAST_RUN = Gauge("duban_tick_last_run_timestamp_seconds", "When a tick transaction last committed (Unix time)",
                      registry=REGISTRY)
DELIVERIES = Counter("duban_outbox_delivery_attempts_total", "Delivery attempts by outcome (sent, retried, dead, skipped)",
                     ("outcome",), registry=REGISTRY)
SQLITE_BUSY = Counter("duban_sqlite_busy_total", "Requests answered 503 because SQLite's write lock stayed busy",
                      registry=REGISTRY)
OUTBOX_MESSAGES = Gauge("duban_outbox_messages", "Outbox messages by status", ("status",), registry=REGISTRY)
OUTBOX_OLDEST_PENDING = Gauge("duban_outbox_oldest_pending_age_seconds",
                              "Age of the oldest message waiting to be sent (0 when none)", registry=REGISTRY)
LEASE_HOLDER = Gauge("duban_scheduler_lease_holder", "1 for the process holding each scheduler lease (unexpired)",
                     ("lease", "holder"), registry=REGISTRY)
