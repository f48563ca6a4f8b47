"""NATS and JetStream: the embedded server, the connection, the streams and subject names."""

from __future__ import annotations

from wharf.broker.connection import connect
from wharf.broker.embedded import EmbeddedNats, nats_server_binary
from wharf.broker.streams import ensure_streams, stream_configs

__all__ = ("EmbeddedNats", "connect", "ensure_streams", "nats_server_binary", "stream_configs")
