"""OASIS UBL 2.x (incl. Peppol BIS 3 and EN 16931) to and from the canonical model.

:class:`UblCodec` reads ``Order`` (→ PurchaseOrder), ``OrderResponse`` and
``OrderResponseSimple`` (→ POAcknowledgment), ``DespatchAdvice`` (→ ShipNotice), ``Invoice`` and
``CreditNote`` (→ Invoice), matching elements by namespace URI whatever their prefix, and
writes Order, OrderResponse, DespatchAdvice and Invoice. Parsing is defused (no DTD, no
entities, no network) by :mod:`wharf.codecs.xml`.
"""

from __future__ import annotations

from wharf.codecs.ubl.codec import PEPPOL_PROFILES, UblCodec

__all__ = ("PEPPOL_PROFILES", "UblCodec")
