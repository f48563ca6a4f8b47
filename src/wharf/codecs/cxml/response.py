"""The cXML ``Response``: Wharf's answer to a request, and a partner's answer to ours.

Every cXML request is answered with ``<Response><Status code=… text=…>detail</Status></Response>``
(200 OK; 400 Bad Request for a document that cannot be read; 406 Not Acceptable for a document
of a type this endpoint does not take; 450 Not Implemented for request types Wharf does not
handle). The reply's payloadID echoes the request's (``reply.<request payloadID>``) so a trace
can pair them; its timestamp is the codec's clock.

An inbound ``Response`` (the partner answering a PO Wharf sent) is not a business document: it
becomes a :class:`~wharf.codecs.base.FunctionalAck`. cXML Responses carry no reference to the
request they answer (the pairing is the HTTP exchange itself), so ``acknowledged_control`` is
the Response's own payloadID.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from wharf.codecs.base import FunctionalAck, Reply
from wharf.codecs.cxml.common import DEFAULT_VERSION, Header, sub
from wharf.codecs.xml import text_of

if TYPE_CHECKING:
    import datetime as dt

__all__ = ("STATUS_TEXT", "read_response", "reply")

STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    406: "Not Acceptable",
    450: "Not Implemented",
}


def reply(
    request_payload_id: str | None, now: dt.datetime, code: int, detail: str | None = None
) -> Reply:
    """Build the ``Response`` answering a request with ``code`` (and a detail text)."""
    created = now.isoformat(timespec="seconds")
    payload_id = f"reply.{request_payload_id}" if request_payload_id else f"reply.{created}@wharf"
    root = ET.Element("cXML", {"payloadID": payload_id, "timestamp": created, "xml:lang": "en-US"})
    sub(
        sub(root, "Response"),
        "Status",
        detail,
        {"code": str(code), "text": STATUS_TEXT.get(code, "Error"), "xml:lang": "en-US"},
    )
    doctype = (
        f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{DEFAULT_VERSION}/cXML.dtd">'
    )
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{ET.tostring(root, encoding="unicode")}\n'
    return Reply(
        kind="cxml-response", media_type="text/xml", body=body.encode(), accepted=code < 400
    )


def read_response(root: ET.Element, header: Header) -> FunctionalAck:
    """A partner's ``Response`` as a FunctionalAck (accepted for 2xx status codes)."""
    status = root.find("Response/Status")
    code_text = (status.get("code") or "").strip() if status is not None else ""
    code = int(code_text) if code_text.isdigit() else 0
    accepted = 200 <= code < 300
    errors = []
    if not accepted:
        text = (status.get("text") or "").strip() if status is not None else "no Status"
        detail = text_of(status)
        message = f"{code_text or '?'} {text}" + (f": {detail}" if detail else "")
        errors.append(header.redact(message))
    return FunctionalAck(
        format="cxml",
        acknowledged_control=header.payload_id or "",
        accepted=accepted,
        errors=errors,
    )
