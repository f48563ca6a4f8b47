"""The JetStream streams Wharf owns, created or updated at start (idempotent)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

from wharf.broker import subjects
from wharf.errors import BrokerError
from wharf.observability.audit import audit_stream_config

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from wharf.settings import StreamSettings

__all__ = ("ensure_streams", "stream_configs")

log = logging.getLogger(__name__)

_DAY = 86_400.0


def stream_configs(settings: StreamSettings) -> list[StreamConfig]:
    """The stream definitions for these settings."""
    common = {
        "retention": RetentionPolicy.LIMITS,
        "storage": StorageType.FILE,
        "num_replicas": settings.replicas,
        "max_age": settings.retention_days * _DAY,
        "duplicate_window": settings.duplicate_window,
        "discard": DiscardPolicy.OLD,
    }
    configs = [
        StreamConfig(
            name=subjects.IN_STREAM,
            description="Inbound partner documents, one subject per partner and document type",
            subjects=["wharf.in.>"],
            max_consumers=settings.max_consumers,
            **common,  # type: ignore[arg-type]
        ),
        StreamConfig(
            name=subjects.OUT_STREAM,
            description="Documents on their way to suppliers",
            subjects=["wharf.out.>"],
            max_consumers=settings.max_consumers,
            **common,  # type: ignore[arg-type]
        ),
        StreamConfig(
            name=subjects.EVT_STREAM,
            description="Business events (CloudEvents 1.0, binary mode)",
            subjects=["wharf.evt.>"],
            **common,  # type: ignore[arg-type]
        ),
        StreamConfig(
            name=subjects.DLQ_STREAM,
            description="Dead letters: documents whose retries ran out",
            subjects=["wharf.dlq.>"],
            **{**common, "max_age": settings.dlq_retention_days * _DAY},  # type: ignore[arg-type]
        ),
        StreamConfig(
            name=subjects.ADVISORY_STREAM,
            description="JetStream advisories about Wharf's mailboxes (DLQ backstop)",
            subjects=[
                f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{subjects.IN_STREAM}.>",
                f"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{subjects.IN_STREAM}.>",
            ],
            **common,  # type: ignore[arg-type]
        ),
    ]
    configs.append(
        audit_stream_config(
            replicas=settings.replicas, duplicate_window=settings.duplicate_window
        )
    )
    if settings.posting_subjects:
        configs.append(
            StreamConfig(
                name=subjects.POST_STREAM,
                description="Postings to internal systems (durable copy for their consumers)",
                subjects=list(settings.posting_subjects),
                **common,  # type: ignore[arg-type]
            )
        )
    return configs


async def ensure_streams(js: JetStreamContext, settings: StreamSettings) -> None:
    """Create each stream, or update it when its definition changed."""
    for config in stream_configs(settings):
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except APIError as exc:
                raise BrokerError(f"cannot create stream {config.name}: {exc}") from exc
            log.info("created stream %s", config.name)
            continue
        try:
            await js.update_stream(config)
        except APIError as exc:
            raise BrokerError(f"cannot update stream {config.name}: {exc}") from exc
