"""The UBL 2.x codec: one document per body, recognised by its root's namespace URI.

UBL has no envelope and no acknowledgment of its own (Peppol's transport acknowledges), so
:class:`Decoded` carries one part and no reply. A root in a UBL document namespace that Wharf
does not read (a ``Catalogue``) is a rejected part; a body that is not XML, not safe XML, or
not UBL at all raises :class:`MalformedDocument`.

Writers emit Peppol BIS 3 customization and profile identifiers by default (the ones real UBL
partners validate against); pass ``profiles`` to the constructor to write others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wharf.codecs.base import Decoded, Part
from wharf.codecs.ubl.common import CBC, Reading, document_namespace, serialize
from wharf.codecs.ubl.despatch import read_despatch_advice, write_despatch_advice
from wharf.codecs.ubl.invoice import read_invoice, write_invoice
from wharf.codecs.ubl.order import read_order, write_order
from wharf.codecs.ubl.order_response import read_order_response, write_order_response
from wharf.codecs.xml import local_name, namespace_of, parse_xml, text_of
from wharf.errors import DocumentError, MalformedDocument
from wharf.model import Invoice, POAcknowledgment, PurchaseOrder, ShipNotice

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from collections.abc import Callable, Mapping

    from wharf.codecs.base import Envelope
    from wharf.model import DocType, Document
    from wharf.policies.model import Format

__all__ = ("PEPPOL_PROFILES", "UblCodec")

_ORDERING = "urn:fdc:peppol.eu:poacc:bis:ordering:3"
PEPPOL_PROFILES: Mapping[str, tuple[str, str]] = {
    "Order": ("urn:fdc:peppol.eu:poacc:trns:order:3", _ORDERING),
    "OrderResponse": ("urn:fdc:peppol.eu:poacc:trns:order_response:3", _ORDERING),
    "DespatchAdvice": (
        "urn:fdc:peppol.eu:poacc:trns:despatch_advice:3",
        "urn:fdc:peppol.eu:poacc:bis:despatch_advice:3",
    ),
    "Invoice": (
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0",
        "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
    ),
}
"""Document name → (CustomizationID, ProfileID) written by default."""

_READERS: Mapping[str, tuple[DocType, Callable[[ET.Element, Reading], Document]]] = {
    "Order": ("purchase_order", read_order),
    "OrderResponse": ("acknowledgment", read_order_response),
    "OrderResponseSimple": ("acknowledgment", read_order_response),
    "DespatchAdvice": ("ship_notice", read_despatch_advice),
    "Invoice": ("invoice", read_invoice),
    "CreditNote": ("invoice", read_invoice),
}


class UblCodec:
    """Reads UBL 2.0/2.1 Order, OrderResponse(Simple), DespatchAdvice, Invoice and CreditNote;
    writes Order, OrderResponse, DespatchAdvice and Invoice.

    ``profiles`` overrides the (CustomizationID, ProfileID) written per document name.
    """

    def __init__(self, *, profiles: Mapping[str, tuple[str, str]] | None = None) -> None:
        self._profiles = {**PEPPOL_PROFILES, **(profiles or {})}

    @property
    def format(self) -> Format:
        return "ubl"

    def decode(self, body: bytes, *, doc_type: DocType | None = None) -> Decoded:
        """Decode one UBL document."""
        root = parse_xml(body).root
        name = local_name(root.tag)
        namespace = namespace_of(root.tag)
        if namespace != document_namespace(name):
            raise MalformedDocument(
                f"not a UBL 2 document: the root element is <{name}> in namespace "
                f"{namespace or '(none)'!r}",
                pointer="/",
            )
        where = f"/{name}"
        entry = _READERS.get(name)
        if entry is None:
            return Decoded(
                [Part(where, error=DocumentError(f"UBL {name} is not supported", pointer=where))]
            )
        kind, read = entry
        if doc_type is not None and kind != doc_type:
            error = DocumentError(
                f"expected a {doc_type} document, got a UBL {name} ({kind})", pointer=where
            )
            return Decoded([Part(where, error=error)])
        reading = Reading(where, text_of(root.find(f"{CBC}UBLVersionID")))
        try:
            return Decoded([Part(where, document=read(root, reading))])
        except DocumentError as exc:
            return Decoded([Part(where, error=exc)])

    def encode(self, document: Document, envelope: Envelope) -> bytes:
        """Write a PO, acknowledgment, ship notice or invoice as UBL (``envelope.version`` →
        ``UBLVersionID`` when given)."""
        version = envelope.version
        match document:
            case PurchaseOrder():
                root = write_order(document, *self._profiles["Order"], version)
            case POAcknowledgment():
                root = write_order_response(document, *self._profiles["OrderResponse"], version)
            case ShipNotice():
                root = write_despatch_advice(document, *self._profiles["DespatchAdvice"], version)
            case Invoice():
                root = write_invoice(document, *self._profiles["Invoice"], version)
            case _:
                raise ValueError(f"UBL has no writer for {type(document).__name__}")
        return serialize(root)
