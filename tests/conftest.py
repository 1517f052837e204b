"""Shared test settings: a deterministic hypothesis profile, and a check for leaked tasks."""

from __future__ import annotations

import asyncio
import os

import pytest
from hypothesis import HealthCheck, settings

from tests.redis_server import redis_server  # noqa: F401 (a fixture for every test module)

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
async def no_leaked_tasks():
    """Fails the test if tasks started during it are still running at its end."""
    before = set(asyncio.all_tasks())

    def check() -> None:
        leaked = [
            task
            for task in asyncio.all_tasks() - before
            if task is not asyncio.current_task() and not task.done()
        ]
        assert not leaked, f"tasks outlived their connection: {leaked!r}"

    return check
