"""cXML (Ariba/Coupa commerce XML) to and from the canonical model.

:class:`CxmlCodec` reads ``OrderRequest`` (→ PurchaseOrder), ``ConfirmationRequest``
(→ POAcknowledgment), ``ShipNoticeRequest`` (→ ShipNotice) and ``InvoiceDetailRequest``
(→ Invoice), answers each with a cXML ``Response``, reads a partner's ``Response`` as a
FunctionalAck, and writes the same four requests. Parsing is defused (no DTD, no entities, no
network) by :mod:`wharf.codecs.xml`.
"""

from __future__ import annotations

from wharf.codecs.cxml.codec import CxmlCodec

__all__ = ("CxmlCodec",)
