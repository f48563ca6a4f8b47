"""The ASGI gateway: the partner listener (mTLS) and the internal listener (ops)."""

from __future__ import annotations

from wharf.gateway.identity import Authenticator
from wharf.gateway.intake import Intake
from wharf.gateway.internal_api import InternalApi, create_internal_app
from wharf.gateway.partner_api import PartnerApi, create_partner_app
from wharf.gateway.receipts import ReceiptStore
from wharf.gateway.server import serve
from wharf.gateway.tls import server_context

__all__ = (
    "Authenticator",
    "Intake",
    "InternalApi",
    "PartnerApi",
    "ReceiptStore",
    "create_internal_app",
    "create_partner_app",
    "serve",
    "server_context",
)
