"""The codec seam: what every format's reader returns and every writer takes.

A body a partner sends may hold several business documents (an X12 interchange with three
856 transaction sets, an EDIFACT interchange with two INVOIC messages). Each one has its own
fate: a :class:`Decoded` lists one :class:`Part` per contained document, either decoded or
rejected with a pointed :class:`~wharf.errors.DocumentError`, plus the format's own answer
(:class:`Reply`: an X12 997, an EDIFACT CONTRL, a cXML Response) when the format has one.

A codec raises :class:`~wharf.errors.DocumentError` itself only when nothing in the body can be
told apart (not XML at all, no usable envelope): then there is nothing to acknowledge part by part.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import anyio.to_thread

if TYPE_CHECKING:
    from wharf.errors import DocumentError
    from wharf.model import DocType, Document
    from wharf.policies.model import Format

__all__ = (
    "OFFLOAD_BYTES",
    "Codec",
    "Decoded",
    "Envelope",
    "FunctionalAck",
    "Part",
    "Reply",
    "Writer",
    "decode_off_loop",
)

OFFLOAD_BYTES = 256 * 1024
"""Bodies at least this big are decoded in a worker thread: one supplier's 50,000-line catalog
must not stop the event loop that serves every other supplier."""


@dataclass(frozen=True, slots=True)
class Part:
    """One contained document: decoded, or rejected with the reason.

    ``where`` names the part in the format's terms for people (``"ST 0002 (856)"``,
    ``"UNH 3 (DESADV)"``, ``"row 7"``); ``control`` is its control number when it has one.
    """

    where: str
    document: Document | None = None
    error: DocumentError | None = None
    control: str | None = None

    def __post_init__(self) -> None:
        if (self.document is None) == (self.error is None):
            raise ValueError("a part is either a document or an error")


@dataclass(frozen=True, slots=True)
class Reply:
    """The format's own answer to the sender (997, CONTRL, cXML Response)."""

    kind: str
    """``"997"``, ``"CONTRL"`` or ``"cxml-response"``."""
    media_type: str
    body: bytes
    accepted: bool
    """False when the reply rejects the whole body (AK9 R, UCI 4, cXML status >= 400)."""


@dataclass(frozen=True, slots=True)
class FunctionalAck:
    """A partner's acknowledgment of something Wharf sent (an inbound 997, CONTRL or Response).

    Not a business document: it closes the loop on an outbound interchange (PO out), so it is
    returned beside the parts rather than as one.
    """

    format: str
    acknowledged_control: str
    """The interchange (UNB/ISA13) or group (GS06) control number being acknowledged."""
    accepted: bool
    transactions: dict[str, str] = field(default_factory=dict)
    """Transaction/message control number -> status code as sent (X12 AK501, CONTRL UCM03)."""
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Decoded:
    """Everything a codec made of one body."""

    parts: list[Part]
    reply: Reply | None = None
    acks: list[FunctionalAck] = field(default_factory=list)

    @property
    def documents(self) -> list[Document]:
        return [p.document for p in self.parts if p.document is not None]

    @property
    def errors(self) -> list[DocumentError]:
        return [p.error for p in self.parts if p.error is not None]


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a writer needs besides the document: who sends to whom, and control numbers.

    Identifiers are the format's own (X12 ISA06/ISA08 with qualifiers, EDIFACT UNB sender and
    recipient, cXML From/To credentials); control numbers are allocated by the caller so that
    they are unique per partner.
    """

    sender_id: str
    receiver_id: str
    control_number: int
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    version: str | None = None
    """Format version to write (X12 GS08 ``004010``/``005010``, EDIFACT ``D96A``/``D01B``...)."""
    test: bool = False
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class Codec(Protocol):
    """Reads a supplier's bytes into canonical documents."""

    @property
    def format(self) -> Format: ...

    def decode(self, body: bytes, *, doc_type: DocType | None = None) -> Decoded: ...


class Writer(Protocol):
    """Writes a canonical document in a supplier's format."""

    @property
    def format(self) -> Format: ...

    def encode(self, document: Document, envelope: Envelope) -> bytes: ...


async def decode_off_loop(codec: Codec, body: bytes, *, doc_type: DocType | None = None) -> Decoded:
    """``codec.decode``, in a worker thread when the body is big (see :data:`OFFLOAD_BYTES`)."""
    if len(body) < OFFLOAD_BYTES:
        return codec.decode(body, doc_type=doc_type)
    return await anyio.to_thread.run_sync(lambda: codec.decode(body, doc_type=doc_type))
