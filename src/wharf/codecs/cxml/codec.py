"""The cXML codec: one request per body in, one ``Response`` out; four requests written.

A cXML body holds exactly one ``Request`` (one document, so one :class:`Part`) or one
``Response`` (a partner's answer to us, returned as a :class:`FunctionalAck`). Every request is
answered: :attr:`Decoded.reply` is always a cXML ``Response`` — 200 when the part decoded, else
the part's error status and pointed text. Bodies that are not (safe) XML or not cXML at all raise
:class:`MalformedDocument`; :meth:`CxmlCodec.error_reply` turns such an error into a Response
for a gateway that wants to answer cXML clients in kind.

The ``SharedSecret`` of the sender's credential never leaves this package: readers do not read
it, and every error text is scrubbed of it before it is put in a part, a reply or an ack.
Writers do not write one either; the ``shared_secret`` hook given to the constructor (called
with the envelope) is the one way to add it to an outbound header.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from wharf.codecs.base import Decoded, Part, Reply
from wharf.codecs.cxml.common import Header, Reading, header_of, write_cxml
from wharf.codecs.cxml.confirmation import read_confirmation_request, write_confirmation_request
from wharf.codecs.cxml.invoice import read_invoice_detail_request, write_invoice_detail_request
from wharf.codecs.cxml.order import read_order_request, write_order_request
from wharf.codecs.cxml.response import read_response, reply
from wharf.codecs.cxml.ship_notice import read_ship_notice_request, write_ship_notice_request
from wharf.codecs.xml import local_name, parse_xml
from wharf.errors import DocumentError, MalformedDocument
from wharf.model import Invoice, POAcknowledgment, PurchaseOrder, ShipNotice

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from collections.abc import Callable, Mapping

    from wharf.codecs.base import Envelope
    from wharf.model import DocType, Document
    from wharf.policies.model import Format

__all__ = ("CxmlCodec",)

_READERS: Mapping[str, tuple[DocType, Callable[[ET.Element, Reading], Document]]] = {
    "OrderRequest": ("purchase_order", read_order_request),
    "ConfirmationRequest": ("acknowledgment", read_confirmation_request),
    "ShipNoticeRequest": ("ship_notice", read_ship_notice_request),
    "InvoiceDetailRequest": ("invoice", read_invoice_detail_request),
}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CxmlCodec:
    """Reads and writes cXML (OrderRequest, ConfirmationRequest, ShipNoticeRequest, InvoiceDetailRequest).

    ``shared_secret`` is called with the envelope of each outbound document and may return the
    ``SharedSecret`` to put in ``Header/Sender/Credential`` (None: none is written).
    ``clock`` stamps the Responses; ``user_agent`` fills ``Sender/UserAgent``.
    """

    def __init__(
        self,
        *,
        shared_secret: Callable[[Envelope], str | None] | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
        user_agent: str = "Wharf",
    ) -> None:
        self._shared_secret = shared_secret
        self._clock = clock
        self._user_agent = user_agent

    @property
    def format(self) -> Format:
        return "cxml"

    def decode(self, body: bytes, *, doc_type: DocType | None = None) -> Decoded:
        """Decode one cXML body; the reply is the cXML Response to send back."""
        document = parse_xml(body)
        root = document.root
        if root.tag != "cXML":
            raise MalformedDocument(
                f"not a cXML document: the root element is <{local_name(root.tag)}>", pointer="/"
            )
        header = header_of(root, document.doctype_system_id)
        request = root.find("Request")
        if request is None:
            if root.find("Response") is not None:
                return Decoded(parts=[], acks=[read_response(root, header)])
            raise MalformedDocument(
                "a cXML document needs a Request or a Response", pointer="/cXML"
            )
        part = self._part(request, header, doc_type)
        if part.error is None:
            answer = reply(header.payload_id, self._clock(), 200)
        else:
            code = int(part.error.code) if part.error.code and part.error.code.isdigit() else 400
            text = part.error.detail
            if part.error.pointer:
                text = f"{part.error.pointer}: {text}"
            answer = reply(header.payload_id, self._clock(), code, text)
        return Decoded(parts=[part], reply=answer)

    def _part(self, request: ET.Element, header: Header, doc_type: DocType | None) -> Part:
        control = header.payload_id
        children = list(request)
        if len(children) != 1:
            error = DocumentError(
                f"a cXML Request holds exactly one request element, found {len(children)}",
                pointer="/cXML/Request",
                code="400",
            )
            return Part("/cXML/Request", error=error, control=control)
        element = children[0]
        name = local_name(element.tag)
        where = f"/cXML/Request/{name}"
        entry = _READERS.get(name)
        if entry is None:
            error = DocumentError(f"cXML {name} is not supported", pointer=where, code="450")
            return Part(where, error=error, control=control)
        kind, read = entry
        if doc_type is not None and kind != doc_type:
            error = DocumentError(
                f"expected a {doc_type} document, got a cXML {name} ({kind})",
                pointer=where,
                code="406",
            )
            return Part(where, error=error, control=control)
        try:
            return Part(where, document=read(element, Reading(where, header)), control=control)
        except DocumentError as exc:
            error = DocumentError(
                header.redact(exc.detail),
                pointer=header.redact(exc.pointer or where),
                code=exc.code or "400",
            )
            return Part(where, error=error, control=control)

    def error_reply(self, error: DocumentError, request_payload_id: str | None = None) -> Reply:
        """A cXML Response for an error raised before any part could be told apart."""
        text = error.detail if not error.pointer else f"{error.pointer}: {error.detail}"
        return reply(request_payload_id, self._clock(), 400, text)

    def encode(self, document: Document, envelope: Envelope) -> bytes:
        """Write a PO, acknowledgment, ship notice or invoice as a cXML request."""
        match document:
            case PurchaseOrder():
                request, dtd = write_order_request(document), "cXML.dtd"
            case POAcknowledgment():
                request, dtd = write_confirmation_request(document), "Fulfill.dtd"
            case ShipNotice():
                request, dtd = write_ship_notice_request(document), "Fulfill.dtd"
            case Invoice():
                request, dtd = write_invoice_detail_request(document), "InvoiceDetail.dtd"
            case _:
                raise ValueError(f"cXML has no writer for {type(document).__name__}")
        secret = self._shared_secret(envelope) if self._shared_secret is not None else None
        return write_cxml(request, envelope, dtd, shared_secret=secret, user_agent=self._user_agent)
