"""CONTRL out for every inbound interchange, CONTRL in as FunctionalAck, envelope checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from wharf.codecs.base import Decoded, FunctionalAck, Reply
from wharf.codecs.edifact import EdifactCodec
from wharf.codecs.edifact.syntax import read_body

FIXTURES = Path(__file__).parent / "fixtures" / "edifact"
CLOCK = dt.datetime(2025, 4, 2, 7, 30, tzinfo=dt.UTC)

ORDER = (
    "UNH+{ref}+ORDERS:D:96A:UN'BGM+220+PO-{ref}+9'NAD+SU+SUP::92'LIN+1++X1:SA'QTY+21:1'UNT+6+{ref}'"
)


def codec(*, strict: bool = False) -> EdifactCodec:
    # The inbound reference as the CONTRL's own, so the expected texts below stay readable;
    # the default (Wharf's own reference) is tested on its own.
    return EdifactCodec(strict=strict, clock=lambda: CLOCK, reply_reference=lambda ref: ref)


def decode(body: bytes | str, *, strict: bool = False) -> Decoded:
    raw = body.encode("latin-1") if isinstance(body, str) else body
    return codec(strict=strict).decode(raw)


def reply_of(decoded: Decoded) -> Reply:
    assert decoded.reply is not None
    assert (decoded.reply.kind, decoded.reply.media_type) == ("CONTRL", "application/edifact")
    return decoded.reply


def segments(reply: Reply) -> list[str]:
    tokens = read_body(reply.body)
    return ["+".join(seg) for seg in tokens.segments]


def ack_of(reply: Reply) -> FunctionalAck:
    """Our CONTRL read back by our own codec: the two halves must agree."""
    decoded = codec().decode(reply.body)
    assert decoded.parts == [] and decoded.reply is None
    (ack,) = decoded.acks
    return ack


def test_contrl_accepts_an_interchange_message_by_message() -> None:
    body = f"UNB+UNOC:3+SUP:14+BUY:14+250401:1000+77'{ORDER.format(ref='1')}{ORDER.format(ref='2')}UNZ+2+77'"
    reply = reply_of(decode(body))
    assert reply.accepted
    assert segments(reply) == [
        "UNB+UNOC:3+BUY:14+SUP:14+250402:0730+77",
        "UNH+1+CONTRL:D:3:UN",
        "UCI+77+SUP:14+BUY:14+7",
        "UCM+1+ORDERS:D:96A:UN+7",
        "UCM+2+ORDERS:D:96A:UN+7",
        "UNT+5+1",
        "UNZ+1+77",
    ]
    assert reply.body.startswith(b"UNA:+.? 'UNB+UNOC:3+BUY:14")
    ack = ack_of(reply)
    assert (ack.acknowledged_control, ack.accepted) == ("77", True)
    assert ack.transactions == {"1": "7", "2": "7"}


def test_contrl_points_at_segment_and_element_of_a_rejected_message() -> None:
    reply = reply_of(decode((FIXTURES / "invoic_two_messages_one_bad.edi").read_bytes()))
    assert reply.accepted
    assert segments(reply)[2:7] == [
        "UCI+42+SUPPLIER:ZZ+BUYER:ZZ+7",
        "UCM+A1+INVOIC:D:96A:UN+7",
        "UCM+A2+INVOIC:D:96A:UN+4",
        "UCS+3",
        "UCD+12+2",  # S011 counts the segment tag as 1: DTM element 1 is position 2
    ]
    ack = ack_of(reply)
    assert ack.transactions == {"A1": "7", "A2": "4"}
    assert ack.errors == ["message A2 segment 3 element 2: 12 invalid value"]


def test_contrl_rejects_everything_when_nothing_could_be_taken() -> None:
    reply = reply_of(decode((FIXTURES / "orders_bad_escape_NEG.edi").read_bytes()))
    assert not reply.accepted
    assert segments(reply)[2:6] == [
        "UCI+897+SENDER:14+RECEIVER:14+4",
        "UCM+1+ORDERS:D:01B:UN:EAN010+4",
        "UCS+5",
        "UCD+22+4",
    ]


def test_unsupported_message_type_is_rejected_on_its_ucm() -> None:
    reply = reply_of(decode((FIXTURES / "mixed_unsupported_types.edi").read_bytes()))
    lines = segments(reply)
    assert "UCM+42+IFTMIN:D:96A:UN:EAN002+4+17+UNH+3" in lines
    assert "UCM+43+ORDERS:D:96A:UN+7" in lines


def test_truncated_message_is_rejected_with_unt_missing() -> None:
    decoded = decode((FIXTURES / "orders_truncated_no_unt_NEG.edi").read_bytes())
    (error,) = decoded.errors
    assert (error.code, error.segment_id, error.pointer) == ("13", "UNT", "/segments/5")
    assert "UCM+1+ORDERS:D:96A:UN+4+13+UNT" in segments(reply_of(decoded))


def test_groups_are_answered_with_ucf() -> None:
    lines = segments(reply_of(decode((FIXTURES / "ung_groups.edi").read_bytes())))
    assert lines[3:5] == ["UCF+GRP9+SUPPLIER:ZZ+BUYER:ZZ+7", "UCM+1+DESADV:D:96A:UN+7"]


def test_syntax_4_interchange_gets_a_syntax_4_contrl() -> None:
    reply = reply_of(decode((FIXTURES / "orders_d96a_decimal_comma_no_unz.edi").read_bytes()))
    assert reply.body.startswith(b"UNA:+.?*'UNB+UNOA:4+")
    assert b"UNH+1+CONTRL:4:1:UN'" in reply.body
    assert b"+20250402:0730+REF0001'" in reply.body


def test_an_interchange_without_messages_is_rejected_as_empty() -> None:
    decoded = decode("UNB+UNOC:3+SUP+BUY+250401:1000+9'UNZ+0+9'")
    assert decoded.parts == []
    reply = reply_of(decoded)
    assert not reply.accepted
    assert "UCI+9+SUP+BUY+4+32" in segments(reply)


def test_an_unusable_unb_rejects_every_message() -> None:
    decoded = decode(f"UNB+UNOC:3+SUP+BUY+250401:1000'{ORDER.format(ref='1')}UNZ+1'")
    (error,) = decoded.errors
    assert (error.code, error.segment_id, error.element) == ("13", "UNB", 5)
    assert "UCI++SUP+BUY+4+13+UNB+6" in segments(reply_of(decoded))


def test_trailer_mismatches_are_tolerated_unless_strict() -> None:
    body = (FIXTURES / "ordrsp_single_line_mismatched_trailers.edi").read_bytes()
    assert len(decode(body).documents) == 1
    strict = decode(body, strict=True)
    (error,) = strict.errors
    assert (error.code, error.segment_id, error.element) == ("29", "UNT", 1)
    # The UNZ reference does not match either: strict rejects the whole interchange.
    assert "UCI+DAREF01+9900080000007:500+990000000000X:500+4+28+UNZ+3" in segments(
        reply_of(strict)
    )


@pytest.mark.parametrize(
    ("trailer", "code", "tag"),
    [("UNT+6+X", "28", "UNT"), ("UNT+7+1", "29", "UNT")],
)
def test_strict_unt_checks(trailer: str, code: str, tag: str) -> None:
    body = (
        f"UNB+UNOC:3+S+R+250401:1000+5'{ORDER.format(ref='1').replace('UNT+6+1', trailer)}UNZ+1+5'"
    )
    decoded = decode(body, strict=True)
    (error,) = decoded.errors
    assert (error.code, error.segment_id) == (code, tag)
    assert f"UCM+1+ORDERS:D:96A:UN+4+{code}+UNT" in "'".join(segments(reply_of(decoded)))


@pytest.mark.parametrize(
    ("trailer", "code"),
    [("UNZ+2+5'", "29"), ("UNZ+1+6'", "28"), ("", "13")],
)
def test_strict_unz_checks_reject_the_interchange(trailer: str, code: str) -> None:
    body = f"UNB+UNOC:3+S+R+250401:1000+5'{ORDER.format(ref='1')}{trailer}"
    decoded = decode(body, strict=True)
    (error,) = decoded.errors
    assert (error.code, error.segment_id) == (code, "UNZ")
    assert not reply_of(decoded).accepted


def test_strict_une_check_rejects_the_group() -> None:
    body = (FIXTURES / "ung_groups.edi").read_bytes().replace(b"UNE+1+GRP9", b"UNE+2+GRP9")
    assert len(decode(body).documents) == 1
    decoded = decode(body, strict=True)
    (error,) = decoded.errors
    assert (error.code, error.segment_id, error.element) == ("29", "UNE", 1)
    lines = segments(reply_of(decoded))
    assert "UCF+GRP9+SUPPLIER:ZZ+BUYER:ZZ+4+29+UNE+2" in lines
    assert not [line for line in lines if line.startswith("UCM")]


def test_inbound_contrl_becomes_a_functional_ack_without_reply() -> None:
    decoded = decode((FIXTURES / "contrl_inbound.edi").read_bytes())
    assert decoded.parts == [] and decoded.reply is None
    (ack,) = decoded.acks
    assert ack == FunctionalAck(
        format="edifact",
        acknowledged_control="1007",
        accepted=True,
        transactions={"1": "7", "2": "4"},
        errors=[
            "message 2 segment 5: 13 missing",
            "message 2 segment 7 element 2: 12 invalid value",
        ],
    )


def test_contrl_beside_business_messages_answers_only_those() -> None:
    contrl = "UNH+9+CONTRL:D:3:UN'UCI+1007+WHARF+PARTNER+4+12+UNB+3'UNT+3+9'"
    body = f"UNB+UNOC:3+P+W+250401:1000+8'{contrl}{ORDER.format(ref='1')}UNZ+2+8'"
    decoded = decode(body)
    (ack,) = decoded.acks
    assert not ack.accepted
    assert ack.errors == ["interchange 1007 UNB 3: 12 invalid value"]
    lines = segments(reply_of(decoded))
    assert [line for line in lines if line.startswith("UCM")] == ["UCM+1+ORDERS:D:96A:UN+7"]


def test_a_contrl_without_uci_is_an_error_part() -> None:
    decoded = decode("UNB+UNOC:3+P+W+250401:1000+8'UNH+9+CONTRL:D:3:UN'UNT+2+9'UNZ+1+8'")
    (error,) = decoded.errors
    assert (error.code, error.segment_id) == ("13", "UCI")


def test_several_interchanges_get_one_contrl_message_each() -> None:
    first = f"UNB+UNOC:3+S+R+250401:1000+1'{ORDER.format(ref='1')}UNZ+1+1'"
    second = f"UNB+UNOC:3+S+R+250401:1000+2'{ORDER.format(ref='2')}UNZ+1+2'"
    decoded = decode(first + second)
    assert len(decoded.documents) == 2
    lines = segments(reply_of(decoded))
    assert [line for line in lines if line.startswith(("UCI", "UNZ"))] == [
        "UCI+1+S+R+7",
        "UCI+2+S+R+7",
        "UNZ+2+1",
    ]


def test_reply_reference_can_be_allocated_by_the_caller() -> None:
    body = f"UNB+UNOC:3+S+R+250401:1000+1'{ORDER.format(ref='1')}UNZ+1+1'"
    decoded = EdifactCodec(reply_reference=lambda ref: f"C{ref}").decode(body.encode())
    assert segments(reply_of(decoded))[-1] == "UNZ+1+C1"


def test_the_contrl_has_its_own_interchange_reference_by_default() -> None:
    body = (
        b"UNA:+.? 'UNB+UNOC:3+SUP:14+BUY:14+250402:0730+77'UNH+1+ORDERS:D:96A:UN'"
        b"BGM+220+PO-1+9'DTM+137:20250402:102'NAD+SU+SUP::9'LIN+1++HX-100:SA'"
        b"QTY+21:2:PCE'UNS+S'UNT+8+1'UNZ+1+77'"
    )
    first = EdifactCodec().decode(body).reply
    again = EdifactCodec().decode(body).reply
    assert first is not None and again is not None
    unb = first.body.split(b"'")[1].split(b"+")
    assert unb[0] == b"UNB" and unb[5] != b"77", "not the partner's reference"
    assert unb[5] == again.body.split(b"'")[1].split(b"+")[5], "the same for the same interchange"
