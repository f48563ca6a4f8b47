"""Canonical JSON documents used across the tests."""

from __future__ import annotations

import json


def ship_notice(asn: str = "ASN-1", *, supplier: str = "acme", uom: str = "EA") -> bytes:
    return json.dumps(
        {
            "doc_type": "ship_notice",
            "document_id": asn,
            "supplier": {"id": supplier},
            "carrier": {"scac": "UPSN"},
            "orders": [
                {
                    "po_number": "PO-1",
                    "packs": [
                        {
                            "sscc": "006141411234567890",
                            "items": [
                                {"line_number": "1", "item": {"supplier_part": "HX-100"},
                                 "quantity": {"value": "24", "uom": uom}},
                            ],
                        }
                    ],
                }
            ],
        }
    ).encode()


def invoice(number: str = "INV-1", *, supplier: str = "acme") -> bytes:
    return json.dumps(
        {
            "doc_type": "invoice",
            "document_id": number,
            "invoice_date": "2026-11-20",
            "supplier": {"id": supplier},
            "currency": "USD",
            "lines": [
                {"line_number": "1", "item": {"sku": "X1"},
                 "quantity": {"value": "2", "uom": "EA"},
                 "unit_price": {"amount": "9.99", "currency": "USD"},
                 "amount": {"amount": "19.98", "currency": "USD"}},
            ],
            "totals": {"total": {"amount": "19.98", "currency": "USD"}},
        }
    ).encode()
