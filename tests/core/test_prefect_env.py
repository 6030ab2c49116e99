"""The Prefect server settings duban runs with (core/prefect_env.py)."""

from __future__ import annotations

import asyncio
import os
import time

from core.prefect_env import SERVER_DEFAULTS, server_environment


def test_the_defaults_apply_where_the_environment_is_silent_and_yield_where_it_speaks() -> None:
    assert server_environment({}) == SERVER_DEFAULTS
    assert server_environment({"PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "7", "OTHER": "x"}) == {
        **SERVER_DEFAULTS, "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "7"}


def test_the_test_process_runs_with_them() -> None:
    # tests/conftest.py isolates the run with core.prefect_env.isolate before Prefect is imported.
    for key in SERVER_DEFAULTS:
        assert key in os.environ
    from prefect.settings import get_current_settings

    recorder = get_current_settings().server.services.task_run_recorder
    assert recorder.enabled
    assert recorder.batch_size == int(os.environ["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"]) > 1


def test_task_runs_still_reach_the_server_when_recorded_in_batches() -> None:
    """Batching delays the task-run records by at most the recorder's flush interval; it loses none."""
    from prefect import flow, get_client, task
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    @task(name="batched_step")
    def step(n: int) -> int:
        return n * 2

    @flow(name="batched_steps")
    def steps() -> list[int]:
        return [step(n) for n in range(3)]

    state = steps(return_state=True)
    assert state.is_completed() and state.result() == [0, 2, 4]
    run_id = state.state_details.flow_run_id

    async def recorded() -> list[str]:
        async with get_client() as client:
            runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        return sorted(r.state.type.value for r in runs if r.state is not None)

    deadline = time.monotonic() + 60
    found = asyncio.run(recorded())
    while found != ["COMPLETED"] * 3 and time.monotonic() < deadline:
        time.sleep(1)
        found = asyncio.run(recorded())
    assert found == ["COMPLETED"] * 3
