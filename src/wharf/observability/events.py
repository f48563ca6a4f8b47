"""Business events: CloudEvents 1.0 in binary mode on ``wharf.evt.<doctype>.<event>``.

Binary mode keeps the payload clean: the CloudEvents attributes travel as ``ce-*`` NATS
headers (``ce-specversion``, ``ce-id``, ``ce-source``, ``ce-type``, ``ce-time``,
``ce-subject``), with the extensions ``ce-correlationid`` and ``ce-partner`` and the W3C
``traceparent`` header. The data is a small JSON object (:class:`EventData`).

Each event is published with ``Nats-Msg-Id`` = its ``ce-id``, which is derived from the
correlation id, the event name and the delivery attempt: a redelivered document that repeats
a step does not duplicate that step's event.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal, get_args

import msgspec

from wharf.broker import subjects
from wharf.broker.subjects import Header

if TYPE_CHECKING:
    from nats.js import JetStreamContext

__all__ = (
    "EVENT_NAMES",
    "Event",
    "EventData",
    "EventEmitter",
    "EventName",
    "cloudevent_headers",
    "decode_event",
)

EventName = Literal[
    "received", "transformed", "validated", "posted", "failed", "retried", "dead_lettered",
    "held", "resumed", "rejected", "sla_overdue",
]
EVENT_NAMES: tuple[EventName, ...] = get_args(EventName)
SOURCE = "/wharf"


class EventData(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """What happened at one step (the CloudEvent's data)."""

    step: str | None = None
    attempt: int | None = None
    document_id: str | None = None
    target: str | None = None
    error: str | None = None
    error_class: Literal["transient", "permanent"] | None = None
    pointer: str | None = None
    retry_in: float | None = None
    """Seconds until the next attempt (``retried`` events)."""
    size: int | None = None
    format: str | None = None
    """The format the partner sent (``received``): json, x12, edifact, cxml, ubl, csv."""
    source: str | None = None
    """Where in the partner's body this document was (``ST 0002 (856)``, ``UNH 3 (DESADV)``)."""
    exception_id: int | None = None
    """The buyer exception a ``held``/``resumed``/``rejected`` document waits on."""
    warnings: list[str] | None = None
    """Validation warnings (``validated``): nothing blocked, but a person may want to look."""
    po_number: str | None = None
    """For lifecycle events (``sla_overdue``): the purchase order concerned."""


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One business event as read back from the stream."""

    id: str
    type: str
    time: dt.datetime
    subject: str
    correlation_id: str
    partner: str
    doc_type: str
    name: str
    traceparent: str | None
    data: EventData


_encode = msgspec.json.Encoder().encode
_decode_data = msgspec.json.Decoder(EventData).decode


def decode_event(nats_subject: str, headers: dict[str, str], payload: bytes) -> Event:
    """Read an event back from its NATS subject, headers and payload."""
    _, _, doc_type, name = nats_subject.split(".", 3)
    return Event(
        id=headers["ce-id"],
        type=headers["ce-type"],
        time=dt.datetime.fromisoformat(headers["ce-time"]),
        subject=headers.get("ce-subject", ""),
        correlation_id=headers["ce-correlationid"],
        partner=headers["ce-partner"],
        doc_type=doc_type,
        name=name,
        traceparent=headers.get(Header.TRACEPARENT),
        data=_decode_data(payload) if payload else EventData(),
    )


def cloudevent_headers(
    *,
    event_id: str,
    event_type: str,
    subject: str,
    correlation_id: str,
    partner: str,
    traceparent: str | None,
    time: dt.datetime | None = None,
) -> dict[str, str]:
    """CloudEvents 1.0 binary-mode headers (plus ``Nats-Msg-Id`` = the event id)."""
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": SOURCE,
        "ce-type": event_type,
        "ce-time": (time or dt.datetime.now(dt.UTC)).isoformat(),
        "ce-subject": subject,
        "ce-datacontenttype": "application/json",
        "ce-correlationid": correlation_id,
        "ce-partner": partner,
        Header.CONTENT_TYPE: "application/json",
        Header.MSG_ID: event_id,
    }
    if traceparent:
        headers[Header.TRACEPARENT] = traceparent
    return headers


class EventEmitter:
    """Publishes business events to JetStream (awaiting the PubAck)."""

    def __init__(self, js: JetStreamContext, *, timeout: float = 10.0) -> None:
        self._js = js
        self._timeout = timeout

    async def emit(
        self,
        name: EventName,
        *,
        doc_type: str,
        correlation_id: str,
        partner: str,
        traceparent: str | None,
        data: EventData,
        subject: str | None = None,
        attempt: int = 1,
        time: dt.datetime | None = None,
        delivery: int | None = None,
    ) -> None:
        """Publish event ``name`` for one document; ``attempt`` keeps retries' events apart and
        ``delivery`` (the mailbox sequence) a replay's events apart from the original's."""
        event_id = f"{correlation_id}:{name}:{attempt}"
        if delivery:
            event_id += f"@{delivery}"
        if name == "posted" and data.target is not None:
            event_id += f":{data.target}"
        headers = cloudevent_headers(
            event_id=event_id,
            event_type=f"wharf.{doc_type}.{name}",
            subject=subject or correlation_id,
            correlation_id=correlation_id,
            partner=partner,
            traceparent=traceparent,
            time=time,
        )
        await self._js.publish(
            subjects.event(doc_type, name),
            _encode(data),
            timeout=self._timeout,
            stream=subjects.EVT_STREAM,
            headers=headers,
        )
