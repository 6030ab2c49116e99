"""Small idempotent DB steps, exposed as Prefect tasks and as plain functions."""
