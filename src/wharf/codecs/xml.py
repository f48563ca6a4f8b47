"""Safe XML parsing and the small helpers the cXML and UBL codecs share.

Why this module exists: partners' XML reaches us from the open network, so it is parsed with
:mod:`defusedxml` configured to refuse every DTD (``forbid_dtd=True``), entity declaration
(``forbid_entities=True``) and external reference (``forbid_external=True``). Billion-laughs
expansion, XXE (``file:///etc/passwd``), external DTDs and external parameter entities are all
refused with a :class:`~wharf.errors.MalformedDocument` before a single entity is expanded, and
nothing is ever fetched.

Real cXML documents nevertheless open with ``<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/…/cXML.dtd">``.
Such a declaration, with only an external identifier and no internal subset, declares nothing
we would act on (we never load the DTD), so :func:`parse_xml` blanks it out — with spaces, so
that line and column numbers in later errors stay right — and remembers its system identifier
(it carries the cXML version). A DOCTYPE with an internal subset (``[...]``: ENTITY, ATTLIST,
parameter entities) is refused outright; defusedxml's ``forbid_dtd`` stays on as the backstop
for anything the prolog scan might miss.

Encodings: the XML declaration's encoding is honoured by expat (UTF-8, US-ASCII, ISO-8859-1 and
the single-byte codecs Python knows); UTF-16 bodies (with a BOM, or recognisable from their
first bytes) are decoded here and handed to the parser as text.

Pointers are XPath-like strings (``/cXML/Request/OrderRequest/ItemOut[2]/@quantity``): steps
are element names, positions count from 1 among same-named siblings, attributes are ``/@name``.
UBL pointers use the conventional ``cac:``/``cbc:`` prefixes whatever prefixes the document
itself used, because element identity is the namespace URI, never the prefix.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal, TypeVar

import defusedxml.ElementTree as DET
import msgspec
from defusedxml import DefusedXmlException

from wharf.errors import DocumentError, MalformedDocument
from wharf.pointers import locate

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = (
    "XmlDocument",
    "build",
    "child_text",
    "local_name",
    "namespace_of",
    "parse_date",
    "parse_datetime",
    "parse_decimal",
    "parse_xml",
    "sniff_xml_format",
    "text_of",
)

T = TypeVar("T")

_UTF8_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
# Blanks a harmless DOCTYPE while keeping its line breaks (so expat's line numbers stay right).
_BLANK = bytes(c if c in (10, 13) else 32 for c in range(256))
_UBL_NS_PREFIX = "urn:oasis:names:specification:ubl:schema:xsd:"


@dataclass(frozen=True, slots=True)
class XmlDocument:
    """A parsed body: the root element and the system id of its (blanked) DOCTYPE, if any."""

    root: ET.Element
    doctype_system_id: str | None = None


def parse_xml(body: bytes) -> XmlDocument:
    """Parse untrusted XML safely; raise :class:`MalformedDocument` for anything unsafe or broken."""
    data = _as_ascii_compatible(body)
    system_id, data = _blank_doctype(data)
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise MalformedDocument(
            f"unsafe XML refused ({type(exc).__name__}): DTDs, entity declarations and external "
            "references are not accepted",
            pointer="/",
        ) from exc
    except ET.ParseError as exc:
        raise MalformedDocument(f"not well-formed XML: {exc}", pointer="/") from exc
    except (LookupError, ValueError, UnicodeError) as exc:
        # An unknown or lying encoding declaration.
        raise MalformedDocument(f"unreadable XML encoding: {exc}", pointer="/") from exc
    return XmlDocument(root, system_id)


def _as_ascii_compatible(body: bytes) -> bytes:
    """UTF-16 bodies become UTF-8 (declaration adjusted); every other body is returned as is."""
    head = body[:2]
    if head in (b"\xff\xfe", b"\xfe\xff"):
        codec = "utf-16"
    elif head == b"<\x00":
        codec = "utf-16-le"
    elif head == b"\x00<":
        codec = "utf-16-be"
    else:
        return body
    try:
        text = body.decode(codec).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise MalformedDocument(f"not valid UTF-16: {exc}", pointer="/") from exc
    if text.startswith("<?xml"):
        end = text.find("?>")
        if end < 0:
            raise MalformedDocument("unterminated XML declaration", pointer="/")
        # The declaration names UTF-16; the bytes handed on are UTF-8. Line numbers are kept.
        text = '<?xml version="1.0" encoding="UTF-8"?>' + text[end + 2 :]
    return text.encode("utf-8", "surrogatepass")


def _blank_doctype(data: bytes) -> tuple[str | None, bytes]:
    """Find the prolog's DOCTYPE; blank it if it is external-only, refuse it otherwise."""
    i = 3 if data.startswith(_UTF8_BOM) else 0
    n = len(data)
    while True:
        while i < n and data[i] in _WHITESPACE:
            i += 1
        if data.startswith(b"<?", i):
            end = data.find(b"?>", i + 2)
            if end < 0:
                return None, data  # expat reports the broken declaration
            i = end + 2
        elif data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
            if end < 0:
                return None, data
            i = end + 3
        elif data.startswith(b"<!DOCTYPE", i):
            end, system_id = _scan_doctype(data, i)
            return system_id, data[:i] + data[i:end].translate(_BLANK) + data[end:]
        else:
            return None, data


def _scan_doctype(data: bytes, start: int) -> tuple[int, str | None]:
    """Return (end offset, system id) of an external-only DOCTYPE starting at ``start``."""
    i = start + len(b"<!DOCTYPE")
    i = _skip_space(data, i)
    while i < len(data) and data[i] not in b" \t\r\n>[":
        i += 1  # the root element name
    i = _skip_space(data, i)
    system_id: str | None = None
    if data.startswith(b"SYSTEM", i):
        system, i = _literal(data, _skip_space(data, i + 6))
        system_id = system
    elif data.startswith(b"PUBLIC", i):
        _public, i = _literal(data, _skip_space(data, i + 6))
        system, i = _literal(data, _skip_space(data, i))
        system_id = system
    i = _skip_space(data, i)
    if data.startswith(b">", i):
        return i + 1, system_id
    if data.startswith(b"[", i):
        raise MalformedDocument(
            "unsafe XML refused: a DOCTYPE with an internal subset (ENTITY/ATTLIST declarations) "
            "is not accepted",
            pointer="/",
        )
    raise MalformedDocument("not well-formed XML: a broken DOCTYPE declaration", pointer="/")


def _skip_space(data: bytes, i: int) -> int:
    while i < len(data) and data[i] in _WHITESPACE:
        i += 1
    return i


def _literal(data: bytes, i: int) -> tuple[str, int]:
    quote = data[i : i + 1]
    if quote not in (b'"', b"'"):
        raise MalformedDocument(
            "not well-formed XML: a DOCTYPE identifier is not quoted", pointer="/"
        )
    end = data.find(quote, i + 1)
    if end < 0:
        raise MalformedDocument(
            "not well-formed XML: an unterminated DOCTYPE identifier", pointer="/"
        )
    return data[i + 1 : end].decode("latin-1"), end + 1


def sniff_xml_format(body: bytes) -> Literal["cxml", "ubl"] | None:
    """Tell cXML from UBL by the first bytes (any encoding, any prefix); None if neither."""
    head = body[:2048]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = head.decode("utf-16", "ignore")
    elif head[:2] in (b"<\x00", b"\x00<"):
        text = head.decode("utf-16-le" if head[0] == 60 else "utf-16-be", "ignore")
    else:
        text = head.decode("latin-1")
    if "<cXML" in text or "cXML.dtd" in text or "/cXML/" in text:
        return "cxml"
    if _UBL_NS_PREFIX in text:
        return "ubl"
    return None


# --- names ----------------------------------------------------------------------------------


def local_name(tag: str) -> str:
    """``{urn:x}Invoice`` → ``Invoice``."""
    return tag.rpartition("}")[2]


def namespace_of(tag: str) -> str:
    """``{urn:x}Invoice`` → ``urn:x``; ``""`` for an element in no namespace."""
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


# --- values ---------------------------------------------------------------------------------


def text_of(element: ET.Element | None) -> str | None:
    """An element's own text, stripped; None when absent or blank."""
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def child_text(element: ET.Element, tag: str) -> str | None:
    """The stripped text of the first child named ``tag`` (a Clark name for namespaced XML)."""
    return text_of(element.find(tag))


def parse_decimal(raw: str, pointer: str, what: str = "value") -> Decimal:
    """A finite decimal as XML writes it (``1.000000``, ``-3.96``); no ``_``, no NaN."""
    value = raw.strip()
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite() or "_" in value:
        raise DocumentError(f"{what} {_quote(raw)} is not a decimal number", pointer=pointer)
    # Business numbers stay far inside these bounds; outside them arithmetic could overflow.
    if number and not -30 <= number.adjusted() <= 20:
        raise DocumentError(f"{what} {_quote(raw)} is out of range", pointer=pointer)
    return number


def parse_date(raw: str, pointer: str, what: str = "date") -> dt.date:
    """The calendar date of an ISO 8601 date or date-time, as written (no time-zone shift)."""
    value = raw.strip()
    if len(value) >= 10 and (len(value) == 10 or value[10] in "T Z+-"):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise DocumentError(f"{what} {_quote(raw)} is not an ISO 8601 date", pointer=pointer)


def parse_datetime(raw: str, pointer: str, what: str = "timestamp") -> dt.datetime:
    """An ISO 8601 date-time (offset optional, ``-0800`` and ``Z`` accepted) or a bare date."""
    try:
        return dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise DocumentError(
            f"{what} {_quote(raw)} is not an ISO 8601 date-time", pointer=pointer
        ) from None


def _quote(raw: str) -> str:
    # Values are quoted into error details; keep them short.
    return repr(raw if len(raw) <= 40 else raw[:37] + "...")


# --- building canonical documents -----------------------------------------------------------


def build(data: Mapping[str, object], cls: type[T], origins: Mapping[str, str], where: str) -> T:
    """Validate a document's fields into ``cls``; errors point into the XML.

    ``origins`` maps JSON pointers of the canonical document (``/lines/1``) to the XML pointer
    each part was read from; a validation error is reported at the nearest recorded origin,
    with the canonical path in the detail.
    """
    try:
        return msgspec.convert(data, cls)
    except msgspec.ValidationError as exc:
        located = locate(exc)
        path = located.pointer
        pointer = where
        probe = path
        while probe:
            if probe in origins:
                pointer = origins[probe]
                break
            probe = probe.rpartition("/")[0]
        detail = located.message if not path else f"{located.message} (canonical {path})"
        raise DocumentError(detail, pointer=pointer) from exc
