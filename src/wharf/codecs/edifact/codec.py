"""The EDIFACT codec: bytes → envelopes → one canonical document (or error) per message.

Why this module exists: it is the seam's :class:`~wharf.codecs.base.Codec` and
:class:`~wharf.codecs.base.Writer` for EDIFACT and holds the policy decisions in one place:

* one :class:`~wharf.codecs.base.Part` per UNH..UNT, ``where`` ``"UNH 7 (DESADV)"``, ``control``
  the UNH message reference; a message that cannot become a document is an error part and the
  other messages are not affected;
* ORDERS, ORDRSP, DESADV and INVOIC are mapped in any directory release (D96A, D97A, D01B,
  D10A... and their EANCOM subsets: the segments used are the same), any other type is an error
  part rejected in the CONTRL with 0085 code 17 (no agreement); with ``doc_type`` a message of
  another type is rejected with code 14;
* inbound CONTRL messages become :attr:`Decoded.acks`; every other interchange gets a CONTRL
  reply (``Decoded.reply``), bare messages without UNB do not (there is nothing to address);
* :class:`~wharf.errors.MalformedDocument` only when no UNB or UNH can be found at all (or the
  UNA is unusable, so that none could be).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING

from wharf.codecs.base import Decoded, Envelope, FunctionalAck, Part, Reply
from wharf.codecs.edifact.contrl import Outcome, read_contrl, write_contrl
from wharf.codecs.edifact.desadv import read_desadv, write_desadv
from wharf.codecs.edifact.envelope import read_envelopes
from wharf.codecs.edifact.groups import Context, scan
from wharf.codecs.edifact.invoic import read_invoic, write_invoic
from wharf.codecs.edifact.orders import read_orders, write_orders
from wharf.codecs.edifact.ordrsp import read_ordrsp, write_ordrsp
from wharf.codecs.edifact.syntax import LEVEL_A, LEVEL_A_V4, read_body
from wharf.codecs.edifact.values import Fields, fault
from wharf.codecs.edifact.writer import (
    Directory,
    SegmentWriter,
    fits_latin1,
    interchange,
    service_for,
)
from wharf.errors import DocumentError, MalformedDocument
from wharf.model import Invoice, POAcknowledgment, PurchaseOrder, ShipNotice, SourceRef

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from wharf.codecs.edifact.envelope import Interchange, Message
    from wharf.codecs.edifact.groups import Scan
    from wharf.model import DocType, Document
    from wharf.policies.model import Format

__all__ = ("EdifactCodec",)

_READERS: Mapping[str, tuple[DocType, Callable[[Scan, Context], Document]]] = {
    "ORDERS": ("purchase_order", read_orders),
    "ORDRSP": ("acknowledgment", read_ordrsp),
    "DESADV": ("ship_notice", read_desadv),
    "INVOIC": ("invoice", read_invoic),
}


class EdifactCodec:
    """Reads and writes UN/EDIFACT (D96A/D01B, EANCOM) ORDERS, ORDRSP, DESADV and INVOIC.

    ``strict=True`` makes trailer mismatches (UNT/UNE/UNZ counts and references, a missing UNZ)
    reject the message, group or interchange; by default they are tolerated, because partners
    get them wrong more often than they truncate a file (a truncated message, one without UNT,
    is always rejected). ``reply_reference`` turns the inbound interchange reference into the
    reference of the CONTRL interchange Wharf answers with (default: the same reference).
    """

    def __init__(
        self,
        *,
        strict: bool = False,
        reply_reference: Callable[[str], str] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._strict = strict
        self._reply_reference = reply_reference or _own_reference
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    @property
    def format(self) -> Format:
        return "edifact"

    # --- reading --------------------------------------------------------------------------

    def decode(self, body: bytes, *, doc_type: DocType | None = None) -> Decoded:
        tokens = read_body(body)
        fields = Fields(tokens.service, tokens.escaped)
        envelopes = read_envelopes(tokens, fields, strict=self._strict)
        if not envelopes.interchanges and not envelopes.bare:
            raise MalformedDocument(
                "not an EDIFACT interchange: no UNB or UNH segment found",
                pointer="/segments/1",
                segment=1,
                segment_id="UNB",
                code="13",
            )
        parts: list[Part] = []
        acks: list[FunctionalAck] = []
        answered: list[tuple[Interchange, list[Outcome]]] = []
        for ic in envelopes.interchanges:
            outcomes: list[Outcome] = []
            for message in ic.messages:
                inherited = ic.fault or (message.group.fault if message.group else None)
                result = self._read(message, fields, ic, doc_type, inherited)
                if isinstance(result, FunctionalAck):
                    acks.append(result)
                    continue
                parts.append(result)
                if message.type != "CONTRL":  # acknowledgments are not acknowledged
                    outcomes.append((message, result.error))
            where = f"UNB {ic.ref or '?'}"
            parts.extend(Part(where=where, error=notice) for notice in ic.notices)
            if ic.fault is not None and not ic.messages:
                parts.append(Part(where=where, error=ic.fault))
            if outcomes or not any(m.type == "CONTRL" for m in ic.messages):
                answered.append((ic, outcomes))
        for message in envelopes.bare:
            result = self._read(message, fields, None, doc_type, None)
            if isinstance(result, FunctionalAck):
                acks.append(result)
            else:
                parts.append(result)
        parts.extend(Part(where="outside any interchange", error=e) for e in envelopes.stray)
        return Decoded(parts=parts, reply=self._reply(answered), acks=acks)

    def _read(
        self,
        message: Message,
        fields: Fields,
        ic: Interchange | None,
        doc_type: DocType | None,
        inherited: DocumentError | None,
    ) -> Part | FunctionalAck:
        """One message as a document part, an error part, or (CONTRL) an acknowledgment."""
        where, control = message.where, message.ref or None
        error = message.fault or inherited
        if error is not None:
            return Part(where=where, error=error, control=control)
        try:
            if message.type == "CONTRL":
                return read_contrl(message, fields)
            mapping = _READERS.get(message.type)
            if mapping is None:
                raise fault(
                    f"message type {message.type!r} is not supported "
                    "(ORDERS, ORDRSP, DESADV, INVOIC, CONTRL)",
                    position=1,
                    tag="UNH",
                    element=2,
                    code="17",
                )
            kind, reader = mapping
            if doc_type is not None and kind != doc_type:
                raise fault(
                    f"a {message.type} message is not a {doc_type}",
                    position=1,
                    tag="UNH",
                    element=2,
                    code="14",
                )
            layout = scan(message)
            try:
                document = reader(layout, self._context(message, fields, ic))
            except (ValueError, ArithmeticError) as exc:
                # A model rule the readers do not check themselves (they check most).
                at = layout.bgm[1] if layout.bgm else 1
                raise fault(str(exc), position=at, tag="BGM" if layout.bgm else "UNH") from None
        except DocumentError as exc:
            return Part(where=where, error=exc, control=control)
        return Part(where=where, document=document, control=control)

    @staticmethod
    def _context(message: Message, fields: Fields, ic: Interchange | None) -> Context:
        group = message.group
        source = SourceRef(
            format="edifact",
            version=message.directory or None,
            interchange_control=(ic.ref or None) if ic is not None else None,
            group_control=(group.ref or None) if group is not None else None,
            transaction_control=message.ref,
            position=f"UNH@{message.start + 1}",
        )
        return Context(
            fields=fields,
            source=source,
            message_ref=message.ref,
            sender=ic.sender[0] if ic is not None and ic.sender else "",
            recipient=ic.recipient[0] if ic is not None and ic.recipient else "",
        )

    def _reply(self, answered: list[tuple[Interchange, list[Outcome]]]) -> Reply | None:
        """One CONTRL interchange answering every interchange, addressed to the first's sender."""
        if not answered:
            return None
        first = answered[0][0]
        version = first.syntax_version if first.syntax_version in ("1", "2", "3", "4") else "3"
        syntax = first.syntax if first.syntax[:3] == "UNO" and len(first.syntax) == 4 else "UNOC"
        service = service_for(version)
        accepted = False
        messages: list[str] = []
        for number, (ic, outcomes) in enumerate(answered, 1):
            w = SegmentWriter(service)
            accepted = write_contrl(w, ic, outcomes, str(number)) or accepted
            messages.append(w.text())
        body = interchange(
            service=service,
            syntax=(syntax, version),
            sender=first.recipient,
            recipient=first.sender,
            reference=self._reply_reference(first.ref or "1"),
            created=self._clock(),
            messages=messages,
        )
        return Reply(kind="CONTRL", media_type="application/edifact", body=body, accepted=accepted)

    # --- writing --------------------------------------------------------------------------

    def encode(self, document: Document, envelope: Envelope) -> bytes:
        """One UNA/UNB..UNZ interchange with one message; ValueError for other types."""
        directory = Directory.parse(envelope.version)
        w = SegmentWriter(LEVEL_A)
        _write_message(w, document, directory)
        syntax = ("UNOC", "3")
        if not fits_latin1(w.text()):
            w = SegmentWriter(LEVEL_A_V4)
            _write_message(w, document, directory)
            syntax = ("UNOY", "4")
        return interchange(
            service=w.service,
            syntax=syntax,
            sender=(envelope.sender_id, envelope.sender_qualifier),
            recipient=(envelope.receiver_id, envelope.receiver_qualifier),
            reference=str(envelope.control_number),
            created=envelope.created,
            messages=[w.text()],
            test=envelope.test,
        )


def _write_message(w: SegmentWriter, document: Document, directory: Directory) -> None:
    match document:
        case PurchaseOrder():
            write_orders(w, document, directory, "1")
        case POAcknowledgment():
            write_ordrsp(w, document, directory, "1")
        case ShipNotice():
            write_desadv(w, document, directory, "1")
        case Invoice():
            write_invoic(w, document, directory, "1")
        case _:
            raise ValueError(
                "EDIFACT writes purchase orders, acknowledgments, ship notices and invoices, "
                f"not {type(document).__name__}"
            )


def _own_reference(inbound: str) -> str:
    """The CONTRL's own interchange reference (0020): Wharf's, not the partner's, and the same
    for the same inbound reference (a replay answers the same)."""
    digest = hashlib.sha256(f"{inbound}\x00CONTRL".encode()).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**9).zfill(9)
