"""HTTP layer: the JSON API and the web pages."""

from core.prefect_env import configure_prefect

configure_prefect()
