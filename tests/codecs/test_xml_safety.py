"""Safe XML parsing: hostile DTDs refused, harmless external DOCTYPEs accepted unfetched, encodings."""

from __future__ import annotations

import socket
from decimal import Decimal
from typing import TYPE_CHECKING

import defusedxml.ElementTree as DET
import pytest
from defusedxml import DTDForbidden

from wharf.codecs.cxml import CxmlCodec
from wharf.codecs.ubl import UblCodec
from wharf.codecs.xml import (
    local_name,
    namespace_of,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_xml,
    sniff_xml_format,
)
from wharf.errors import DocumentError, MalformedDocument

if TYPE_CHECKING:
    from collections.abc import Iterator

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<cXML payloadID="x" timestamp="2025-01-01T00:00:00Z"><Request><OrderRequest>&lol9;</OrderRequest></Request></cXML>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE cXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<cXML payloadID="x" timestamp="2025-01-01T00:00:00Z"><Request><OrderRequest>
<OrderRequestHeader orderID="&xxe;"/></OrderRequest></Request></cXML>"""

EXTERNAL_DTD_WITH_SUBSET = b"""<?xml version="1.0"?>
<!DOCTYPE cXML SYSTEM "http://127.0.0.1:9/evil.dtd" [<!ATTLIST cXML payloadID CDATA "x">]>
<cXML timestamp="2025-01-01T00:00:00Z"/>"""

EXTERNAL_PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>"""

HARMLESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment first -->
<!DOCTYPE cXML
  SYSTEM "http://127.0.0.1:9/schemas/cXML/1.2.050/cXML.dtd">
<cXML payloadID="p" timestamp="2025-01-01T00:00:00Z">
  <Broken attr="1" attr="2"/>
</cXML>"""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the XML parser tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, XXE, EXTERNAL_DTD_WITH_SUBSET, EXTERNAL_PARAMETER_ENTITY],
    ids=["billion-laughs", "xxe-file", "external-dtd-subset", "external-parameter-entity"],
)
def test_hostile_dtds_are_refused_with_a_clear_error(body: bytes, no_network: None) -> None:
    with pytest.raises(MalformedDocument, match="unsafe XML refused") as caught:
        parse_xml(body)
    assert caught.value.pointer == "/"
    assert "root:" not in caught.value.detail  # nothing of /etc/passwd
    for codec in (CxmlCodec(), UblCodec()):
        with pytest.raises(MalformedDocument, match="unsafe XML refused"):
            codec.decode(body)


def test_the_parser_itself_refuses_any_dtd_as_a_backstop() -> None:
    # The prolog scan blanks harmless DOCTYPEs; if anything slipped past it, defusedxml (run with
    # forbid_dtd=True, as parse_xml does) refuses the declaration outright.
    with pytest.raises(DTDForbidden):
        DET.fromstring(b'<!DOCTYPE a SYSTEM "x.dtd"><a/>', forbid_dtd=True)


def test_external_only_doctype_is_accepted_without_fetching(no_network: None) -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE cXML SYSTEM "http://127.0.0.1:9/cXML/1.2.050/cXML.dtd"><cXML a="1"/>'
    document = parse_xml(body)
    assert document.root.tag == "cXML"
    assert document.doctype_system_id == "http://127.0.0.1:9/cXML/1.2.050/cXML.dtd"


def test_public_doctype_is_accepted_too() -> None:
    body = b"<!DOCTYPE a PUBLIC '-//X//DTD A//EN' 'a.dtd'><a/>"
    assert parse_xml(body).doctype_system_id == "a.dtd"


def test_blanking_the_doctype_keeps_line_numbers(no_network: None) -> None:
    with pytest.raises(MalformedDocument) as caught:
        parse_xml(HARMLESS)
    assert "line 6" in caught.value.detail  # the duplicate attribute, where it really is


def test_a_doctype_inside_a_comment_is_just_a_comment() -> None:
    body = b'<!-- <!DOCTYPE x [<!ENTITY e "e">]> --><a>t</a>'
    document = parse_xml(body)
    assert document.root.text == "t"
    assert document.doctype_system_id is None


def test_undefined_entities_are_malformed() -> None:
    with pytest.raises(MalformedDocument, match="undefined entity"):
        parse_xml(b"<a>&nbsp;</a>")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<a><b></a>",
        b"<?xml version='1.0' encoding='EBCDIC-NOPE'?><a/>",
        b"<?xml version='1.0' encoding='UTF-8'?><a>\xff\xfe</a>",
        b"\xff\xfe<\x00a\x00",  # truncated UTF-16
        b"<!DOCTYPE a SYSTEM x><a/>",
        b"<!DOCTYPE a SYSTEM 'unterminated><a/>",
    ],
)
def test_broken_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedDocument):
        parse_xml(body)


@pytest.mark.parametrize(
    ("encoding", "codec"),
    [
        ("UTF-8", "utf-8"),
        ("UTF-8", "utf-8-sig"),
        ("ISO-8859-1", "latin-1"),
        ("windows-1252", "cp1252"),
        ("UTF-16", "utf-16"),
        ("UTF-16", "utf-16-le"),
        ("UTF-16", "utf-16-be"),
    ],
)
def test_the_declared_encoding_is_honoured(encoding: str, codec: str) -> None:
    text = f'<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE a SYSTEM "a.dtd">\n<a b="Köln">Größe é</a>'
    document = parse_xml(text.encode(codec))
    assert document.root.text == "Größe é"
    assert document.root.get("b") == "Köln"


def test_sniffing_tells_cxml_from_ubl_in_any_encoding() -> None:
    cxml = b'<?xml version="1.0"?><!DOCTYPE cXML SYSTEM "http://xml.cxml.org/x/cXML.dtd"><cXML/>'
    ubl = b'<x:Invoice xmlns:x="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>'
    assert sniff_xml_format(cxml) == "cxml"
    assert sniff_xml_format(ubl) == "ubl"
    assert sniff_xml_format(ubl.decode().encode("utf-16")) == "ubl"
    assert sniff_xml_format(cxml.decode().encode("utf-16-be")) == "cxml"
    assert sniff_xml_format(b"<note/>") is None


def test_names_are_split_from_clark_notation() -> None:
    assert local_name("{urn:x}Invoice") == "Invoice"
    assert namespace_of("{urn:x}Invoice") == "urn:x"
    assert namespace_of("cXML") == ""


def test_value_parsers_point_at_the_bad_value() -> None:
    assert parse_decimal(" 1.000000 ", "/p") == Decimal("1.000000")
    assert parse_decimal("-3.96", "/p") == Decimal("-3.96")
    for bad in ("abc", "NaN", "Infinity", "1_000", "1,5", "1e999999", ""):
        with pytest.raises(DocumentError) as caught:
            parse_decimal(bad, "/a/@quantity", "quantity")
        assert caught.value.pointer == "/a/@quantity"
    assert parse_date("2005-06-20Z", "/p").isoformat() == "2005-06-20"
    assert parse_date("2000-10-12T18:41:29-08:00", "/p").isoformat() == "2000-10-12"
    assert parse_date("0021-02-01", "/p").year == 21
    with pytest.raises(DocumentError, match="invoice_date"):
        parse_date("invoice_date", "/p")
    assert parse_datetime("2000-10-12T18:41:29-0800", "/p").utcoffset() is not None
    with pytest.raises(DocumentError):
        parse_datetime("yesterday", "/p")
