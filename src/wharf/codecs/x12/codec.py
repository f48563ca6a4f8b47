"""The X12 codec: a body in, one part per transaction set and the 997 out; documents out as X12.

``decode`` runs tokenizer → envelope → one reader per transaction set. Each set has its own
fate: a set whose frame is broken, whose type Wharf does not read (a 940, an 820), that is not
the ``doc_type`` the caller asked for, or whose content is wrong becomes an error part with a
pointer ``/segments/<n>/<element>`` (n counted from ST = 1, as AK3 counts), while the other sets
still decode. Every interchange (except one carrying only 997s) is answered by a 997 in the
sender's GS08 version; the bodies of all answers are concatenated into one
:class:`~wharf.codecs.base.Reply` whose ``accepted`` is False only when every group is rejected.
Inbound 997s become :class:`~wharf.codecs.base.FunctionalAck` entries, never parts, and are not
acknowledged. A bare body (ST..SE without ISA) is decoded but gets no 997: there is no
interchange to address it to. Only a body in which no X12 can be told apart at all raises
:class:`~wharf.errors.MalformedDocument`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING

import msgspec

from wharf.codecs.base import Decoded, FunctionalAck, Part, Reply
from wharf.codecs.x12.ack import GroupAck, SetAck, read_997, set_ack, write_997
from wharf.codecs.x12.ack855 import read_855, write_855
from wharf.codecs.x12.asn856 import read_856, write_856
from wharf.codecs.x12.catalog832 import read_832
from wharf.codecs.x12.envelope import (
    Group,
    Interchange,
    TransactionSet,
    read_envelopes,
)
from wharf.codecs.x12.inventory846 import read_846
from wharf.codecs.x12.invoice810 import read_810, write_810
from wharf.codecs.x12.overrides import ItemOverrides
from wharf.codecs.x12.po850 import read_850, write_850
from wharf.codecs.x12.tokenizer import decode_text, tokenize
from wharf.codecs.x12.values import ReadContext, date_of, el
from wharf.codecs.x12.writer import DEFAULT_VERSION, GroupOut, render_interchange
from wharf.errors import DocumentError
from wharf.model import (
    Invoice,
    POAcknowledgment,
    PurchaseOrder,
    ShipNotice,
    SourceRef,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from wharf.codecs.base import Envelope
    from wharf.model import DocType, Document
    from wharf.policies.model import Format

    _Reader = Callable[[list[list[str]], ReadContext], Document]

__all__ = ("X12Codec",)

_READERS: Mapping[str, tuple[DocType, _Reader]] = {
    "850": ("purchase_order", read_850),
    "855": ("acknowledgment", read_855),
    "856": ("ship_notice", read_856),
    "810": ("invoice", read_810),
    "846": ("inventory_advice", read_846),
    "832": ("price_catalog", read_832),
}
MEDIA_TYPE = "application/edi-x12"


def _set_error(ts: TransactionSet, code: str, detail: str) -> DocumentError:
    return DocumentError(f"{ts.where}: {detail}", pointer="/segments/1/1", segment=1,
                         segment_id="ST", element=1, code=code)


class X12Codec:
    """Reads and writes ANSI X12 (004010, 004030, 005010 and their VICS/UCS variants).

    ``overrides`` are per-supplier item-identifier overrides (see
    :mod:`wharf.codecs.x12.overrides`); ``clock`` dates the 997s (tests pass a fixed one).
    """

    def __init__(
        self,
        overrides: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._overrides = ItemOverrides.parse(overrides)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    @property
    def format(self) -> Format:
        return "x12"

    # --- reading ------------------------------------------------------------------------------

    def decode(self, body: bytes, *, doc_type: DocType | None = None) -> Decoded:
        """One part per transaction set, the 997 answer and any inbound 997s."""
        parts: list[Part] = []
        acks: list[FunctionalAck] = []
        replies: list[bytes] = []
        rejected_everything = True
        for raw in tokenize(decode_text(body)):
            interchange = read_envelopes(raw)
            verdicts = [
                verdict for group in interchange.groups
                if (verdict := self._group(interchange, group, doc_type, parts, acks)) is not None
            ]
            if interchange.isa is not None and verdicts:
                rejected_everything &= all(v.status == "R" for v in verdicts)
                replies.append(self._reply(interchange, verdicts))
        reply = None
        if replies:
            reply = Reply(kind="997", media_type=MEDIA_TYPE, body=b"".join(replies),
                          accepted=not rejected_everything)
        return Decoded(parts, reply, acks)

    def _group(
        self, interchange: Interchange, group: Group, doc_type: DocType | None,
        parts: list[Part], acks: list[FunctionalAck],
    ) -> GroupAck | None:
        """Read a group's sets into ``parts``/``acks``; its 997 verdict (None: nothing to ack)."""
        set_acks: list[SetAck] = []
        for ts in group.sets:
            if ts.set_id == "997":  # an acknowledgment is never acknowledged
                error = ts.problem
                if error is None:
                    try:
                        acks.append(read_997(ts.segments))
                    except DocumentError as exc:
                        error = exc
                if error is not None:
                    parts.append(Part(ts.where, error=error, control=ts.control))
                continue
            part = self._part(interchange, group, ts, doc_type)
            parts.append(part)
            set_acks.append(set_ack(ts.set_id, ts.control, part.error, noted=ts.noted,
                                    value=_bad_value(ts, part.error)))
        if not set_acks and (group.gs is None or group.functional_id == "FA"):
            return None
        return GroupAck(group.functional_id, group.control, group.version, tuple(set_acks),
                        group.declared, tuple(group.codes), group.sender, group.receiver)

    def _part(
        self, interchange: Interchange, group: Group, ts: TransactionSet, doc_type: DocType | None
    ) -> Part:
        if ts.problem is not None:
            return Part(ts.where, error=ts.problem, control=ts.control)
        found = _READERS.get(ts.set_id)
        if found is None:
            error = _set_error(ts, "1", f"transaction set {ts.set_id} is not supported")
            return Part(ts.where, error=error, control=ts.control)
        kind, reader = found
        if doc_type is not None and kind != doc_type:
            error = _set_error(ts, "1", f"a {ts.set_id} is a {kind}, not a {doc_type}")
            return Part(ts.where, error=error, control=ts.control)
        ctx = ReadContext(
            source=SourceRef(
                format="x12", version=group.version or None,
                interchange_control=interchange.control or None,
                group_control=group.control or None, transaction_control=ts.control,
                position=f"ST@{ts.number}",
            ),
            overrides=self._overrides,
            sender=interchange.sender or group.sender,
            receiver=interchange.receiver or group.receiver,
            group_date=date_of(group.date),
        )
        try:
            document = reader(ts.segments, ctx)
        except DocumentError as exc:
            return Part(ts.where, error=exc, control=ts.control)
        except (ValueError, msgspec.ValidationError) as exc:
            # A model rule the reader did not check first (e.g. a currency mixed in one
            # document): the set is rejected as a whole, AK502 5.
            error = DocumentError(f"{ts.where}: {exc}", pointer="/segments/1", segment=1,
                                  segment_id="ST", code="5")
            return Part(ts.where, error=error, control=ts.control)
        return Part(ts.where, document=document, control=ts.control)

    def _reply(self, interchange: Interchange, verdicts: list[GroupAck]) -> bytes:
        return write_997(
            verdicts,
            sender_id=interchange.receiver, receiver_id=interchange.sender,
            control_number=reply_control(interchange.sender, interchange.control),
            sender_qualifier=interchange.receiver_qualifier,
            receiver_qualifier=interchange.sender_qualifier,
            test=interchange.test, created=self._clock(),
        )

    # --- writing ------------------------------------------------------------------------------

    def encode(self, document: Document, envelope: Envelope) -> bytes:
        """A full interchange (ISA..IEA) carrying the document; GS08 is ``envelope.version``."""
        today = envelope.created.date()
        match document:
            case PurchaseOrder():
                functional_id, segments = "PO", write_850(document, today)
            case POAcknowledgment():
                functional_id, segments = "PR", write_855(document, today)
            case ShipNotice():
                functional_id, segments = "SH", write_856(document, today)
            case Invoice():
                functional_id, segments = "IN", write_810(document)
            case _:
                raise ValueError(f"x12: cannot write a {type(document).__name__}")
        version = envelope.version or DEFAULT_VERSION
        group = GroupOut(functional_id, str(envelope.control_number), version, [segments])
        return render_interchange(envelope, [group])


def _bad_value(ts: TransactionSet, error: DocumentError | None) -> str | None:
    """A copy of the element an error points at, for AK404."""
    if error is None or error.segment is None or error.element is None:
        return None
    if 0 < error.segment <= len(ts.segments):
        return el(ts.segments[error.segment - 1], error.element) or None
    return None


def reply_control(sender: str, control: str) -> int:
    """The 997's own interchange control number: Wharf's, not the partner's (reusing the
    inbound ISA13 collides with the partner's numbering). Derived from the inbound sender and
    ISA13, so the same interchange always gets the same 997 (a replay answers the same)."""
    digest = hashlib.sha256(f"{sender}\x00{control}\x00997".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 999_999_999 + 1
