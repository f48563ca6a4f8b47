"""NATS subject names and header names: the contract internal apps subscribe to."""

from __future__ import annotations

from typing import Final

__all__ = (
    "DLQ_STREAM",
    "EVT_STREAM",
    "IN_STREAM",
    "OUT_STREAM",
    "POST_STREAM",
    "Header",
    "dlq",
    "event",
    "inbound",
    "inbound_filter",
    "outbound",
)

IN_STREAM: Final = "WHARF_IN"
OUT_STREAM: Final = "WHARF_OUT"
EVT_STREAM: Final = "WHARF_EVT"
DLQ_STREAM: Final = "WHARF_DLQ"
POST_STREAM: Final = "WHARF_POST"
ADVISORY_STREAM: Final = "WHARF_ADVISORIES"


class Header:
    """Header names Wharf reads and writes on NATS messages."""

    MSG_ID: Final = "Nats-Msg-Id"
    CORRELATION_ID: Final = "Wharf-Correlation-Id"
    PARTNER: Final = "Wharf-Partner"
    DOC_TYPE: Final = "Wharf-Doc-Type"
    FORMAT: Final = "Wharf-Format"
    """Format of the message body (the mailbox carries canonical JSON: ``json``)."""
    SOURCE_FORMAT: Final = "Wharf-Source-Format"
    """Format the partner sent the document in."""
    SOURCE: Final = "Wharf-Source"
    """Where in the partner's body the document was (``ST 0002 (856)``)."""
    CONTENT_TYPE: Final = "Content-Type"
    IDEMPOTENCY_KEY: Final = "Wharf-Idempotency-Key"
    RECEIVED_AT: Final = "Wharf-Received-At"
    TRACEPARENT: Final = "traceparent"
    DLQ_REASON: Final = "Wharf-Dlq-Reason"
    DLQ_STEP: Final = "Wharf-Dlq-Step"
    DLQ_DELIVERIES: Final = "Wharf-Dlq-Deliveries"
    DLQ_STREAM_SEQ: Final = "Wharf-Dlq-Stream-Seq"


def inbound(partner: str, doc_type: str) -> str:
    """``wharf.in.<partner>.<doctype>``: a partner's inbound mailbox."""
    return f"wharf.in.{partner}.{doc_type}"


def inbound_filter(partner: str) -> str:
    return f"wharf.in.{partner}.>"


def outbound(partner: str, doc_type: str) -> str:
    """``wharf.out.<partner>.<doctype>``: documents on their way to a supplier."""
    return f"wharf.out.{partner}.{doc_type}"


def event(doc_type: str, name: str) -> str:
    """``wharf.evt.<doctype>.<event>``: a business event (CloudEvents, binary mode)."""
    return f"wharf.evt.{doc_type}.{name}"


def dlq(partner: str) -> str:
    """``wharf.dlq.<partner>``: documents parked after their retries ran out."""
    return f"wharf.dlq.{partner}"
