from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """nats-py and aiosqlite are asyncio-native: pin anyio's pytest plugin to asyncio."""
    return "asyncio"
