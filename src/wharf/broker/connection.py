"""Connecting to NATS with settings that suit a long-running gateway."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import nats

from wharf.errors import BrokerError

if TYPE_CHECKING:
    from nats.aio.client import Client

    from wharf.settings import NatsSettings

__all__ = ("connect",)

log = logging.getLogger(__name__)


async def _on_error(exc: Exception) -> None:
    log.warning("nats: %s", exc)


async def _on_disconnect() -> None:
    log.warning("nats: disconnected; reconnecting")


async def _on_reconnect() -> None:
    log.info("nats: reconnected")


async def connect(url: str, settings: NatsSettings, *, name: str = "wharf") -> Client:
    """Connect to ``url`` (comma-separated for a cluster); reconnect forever afterwards."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    try:
        return await nats.connect(
            servers=servers,
            name=name,
            connect_timeout=settings.connect_timeout,
            ping_interval=int(settings.ping_interval),
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            allow_reconnect=True,
            error_cb=_on_error,
            disconnected_cb=_on_disconnect,
            reconnected_cb=_on_reconnect,
        )
    except (OSError, nats.errors.Error) as exc:
        raise BrokerError(f"cannot connect to NATS at {url}: {exc}") from exc
