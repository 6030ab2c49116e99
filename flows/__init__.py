"""Prefect flows: short, idempotent steps over database state."""

from core.prefect_env import configure_prefect

configure_prefect()
