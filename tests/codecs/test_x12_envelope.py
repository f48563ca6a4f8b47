"""X12 envelopes: what is fatal, what is noted, and the 997 that says so."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from wharf.codecs.base import Envelope
from wharf.codecs.x12 import GroupAck, SetAck, X12Codec, set_ack, write_997
from wharf.codecs.x12.envelope import read_envelopes, same_control
from wharf.codecs.x12.tokenizer import decode_text, tokenize
from wharf.errors import DocumentError
from wharf.model import Invoice, PurchaseOrder

FIXTURES = Path(__file__).parent / "fixtures" / "x12"
NOW = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
CODEC = X12Codec(clock=lambda: NOW)


def _body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _segments(reply: bytes) -> list[str]:
    return reply.decode().split("~")[:-1]


def test_control_number_mismatch_rejects_the_set_with_a_pointed_error() -> None:
    decoded = CODEC.decode(_body("850_control_numbers_mismatch_NEG.edi"))
    assert decoded.documents == []
    (part,) = decoded.parts
    assert part.where == "ST 0001 (850)" and part.control == "0001"
    error = part.error
    assert error is not None
    assert (error.pointer, error.segment, error.segment_id, error.element, error.code) == (
        "/segments/18/2", 18, "SE", 2, "3")
    assert "SE02 '0002' does not match ST02 '0001'" in str(error)
    assert decoded.reply is not None and not decoded.reply.accepted
    segments = _segments(decoded.reply.body)
    assert "AK5*R*3" in segments
    assert "AK9*R*1*1*0*4" in segments  # GE02 != GS06 is AK905 code 4


def test_the_reply_is_a_fixed_width_997_interchange_in_the_senders_version() -> None:
    decoded = CODEC.decode(_body("810_implied_decimals_two_invoices.edi"))
    assert decoded.reply is not None
    assert decoded.reply.kind == "997" and decoded.reply.media_type == "application/edi-x12"
    assert decoded.reply.accepted
    segments = _segments(decoded.reply.body)
    isa = segments[0]
    assert len(isa) + 1 == 106
    assert isa.split("*")[5:9] == ["ZZ", "NORTHWIND      ", "ZZ", "ACME           "]
    # The 997's own interchange number (not the partner's 000000915), stable per interchange.
    control = isa.split("*")[13]
    assert isa.split("*")[11:13] == ["^", "00403"]
    assert control != "000000915" and control.isdigit() and len(control) == 9
    assert control == _segments(CODEC.decode(_body("810_implied_decimals_two_invoices.edi"))
                                .reply.body)[0].split("*")[13]  # type: ignore[union-attr]
    assert segments[1:] == [
        "GS*FA*NORTHWIND*ACME*20260102*0304*915*X*004030",
        "ST*997*0001", "AK1*IN*915", "AK2*810*0015", "AK5*A", "AK2*810*0016", "AK5*A",
        "AK9*A*2*2*2", "SE*8*0001", "GE*1*915", f"IEA*1*{control}",
    ]


def test_one_bad_transaction_set_does_not_sink_the_others() -> None:
    body = _body("810_implied_decimals_two_invoices.edi").replace(b"IT1*1*1080*EA*3.61",
                                                                  b"IT1*1*10x0*EA*3.61")
    decoded = CODEC.decode(body)
    first, second = decoded.parts
    assert first.error is not None and second.document is not None
    assert isinstance(second.document, Invoice)
    assert (first.error.pointer, first.error.segment_id, first.error.element,
            first.error.code) == ("/segments/12/2", "IT1", 2, "6")
    assert decoded.reply is not None and decoded.reply.accepted
    segments = _segments(decoded.reply.body)
    assert segments[4:11] == [
        "AK2*810*0015", "AK3*IT1*12**8", "AK4*2**6*10x0", "AK5*R*5", "AK2*810*0016", "AK5*A",
        "AK9*P*2*2*1",
    ]


def test_a_wrong_segment_count_is_noted_not_fatal() -> None:
    body = _body("850_tilde_crlf_bom_indented.edi").replace(b"SE*18*0001", b"SE*17*0001")
    decoded = CODEC.decode(body)
    assert len(decoded.documents) == 1
    assert decoded.reply is not None
    assert "AK5*E*4" in _segments(decoded.reply.body)


def test_a_missing_se_rejects_only_its_set() -> None:
    body = _body("810_implied_decimals_two_invoices.edi").replace(b"SE*24*0015~\r\n", b"")
    decoded = CODEC.decode(body)
    first, second = decoded.parts
    assert first.error is not None and first.error.code == "2"
    assert first.error.segment_id == "SE" and first.error.pointer == "/segments/24"
    assert second.document is not None
    assert decoded.reply is not None
    assert "AK5*R*2" in _segments(decoded.reply.body)


def test_group_trailer_problems_are_reported_in_ak9_and_the_sets_still_read() -> None:
    body = _body("850_tilde_crlf_bom_indented.edi").replace(b"GE*1*901", b"GE*2*901")
    decoded = CODEC.decode(body)
    assert len(decoded.documents) == 1
    assert decoded.reply is not None and decoded.reply.accepted
    assert "AK9*E*2*1*1*5" in _segments(decoded.reply.body)


def test_interchange_trailer_mismatches_are_kept_as_issues() -> None:
    body = _body("850_tilde_crlf_bom_indented.edi").replace(b"IEA*1*000000901", b"IEA*2*000000055")
    (raw,) = tokenize(decode_text(body))
    interchange = read_envelopes(raw)
    assert interchange.issues == [
        "IEA01 says '2' groups, the interchange has 1",
        "IEA02 '000000055' does not match ISA13 '000000901'",
    ]
    assert len(CODEC.decode(body).documents) == 1


def test_a_truncated_interchange_still_reads_its_complete_sets() -> None:
    body = _body("810_implied_decimals_two_invoices.edi")
    cut = body[: body.index(b"GE*2*915")]
    decoded = CODEC.decode(cut)
    assert len(decoded.documents) == 2
    assert decoded.reply is not None
    assert "AK9*E*2*2*2*3" in _segments(decoded.reply.body)  # GE missing: AK905 code 3


def test_an_unsupported_transaction_set_is_an_error_part_and_ak5_code_1() -> None:
    decoded = CODEC.decode(_body("940_unsupported_beside_850.edi"))
    unsupported, po = decoded.parts
    assert unsupported.error is not None
    assert str(unsupported.error) == "ST 0001 (940): transaction set 940 is not supported"
    assert (unsupported.error.pointer, unsupported.error.code) == ("/segments/1/1", "1")
    assert isinstance(po.document, PurchaseOrder)
    assert decoded.reply is not None
    segments = _segments(decoded.reply.body)
    assert segments[4:9] == ["AK2*940*0001", "AK5*R*1", "AK2*850*0002", "AK5*A", "AK9*P*2*2*1"]


def test_doc_type_other_than_the_sets_type_is_an_error_part() -> None:
    decoded = CODEC.decode(_body("856_sotpi_two_orders.edi"), doc_type="invoice")
    (part,) = decoded.parts
    assert part.error is not None and part.error.code == "1"
    assert "a 856 is a ship_notice, not a invoice" in str(part.error)
    assert len(CODEC.decode(_body("856_sotpi_two_orders.edi"), doc_type="ship_notice")
               .documents) == 1


def test_an_inbound_997_is_a_functional_ack_and_is_not_acknowledged() -> None:
    decoded = CODEC.decode(_body("997_inbound_rejects_850.edi"))
    assert decoded.parts == [] and decoded.reply is None
    (ack,) = decoded.acks
    assert ack.format == "x12" and ack.acknowledged_control == "901" and not ack.accepted
    assert ack.transactions == {"0001": "R"}
    assert ack.errors == ["set 0001: segment PO1 at 12: code 8", "set 0001: element 2: code 6",
                          "set 0001: R 5"]


def test_a_997_without_ak9_is_an_error_part() -> None:
    body = _body("997_inbound_rejects_850.edi").replace(b"AK9*R*1*1*0~\n", b"").replace(
        b"SE*8*0018", b"SE*7*0018")
    decoded = CODEC.decode(body)
    (part,) = decoded.parts
    assert part.error is not None and part.error.segment_id == "AK9"
    assert decoded.acks == [] and decoded.reply is None


def test_a_mailbag_is_answered_per_interchange_except_the_997() -> None:
    decoded = CODEC.decode(_body("mailbag_three_interchanges.edi"))
    assert len(decoded.acks) == 1
    assert [p.where for p in decoded.parts] == ["ST 0020 (820)", "ST 0021 (850)"]
    assert decoded.reply is not None and decoded.reply.accepted
    segments = _segments(decoded.reply.body)
    assert sum(1 for s in segments if s.startswith("ISA")) == 2
    assert [s for s in segments if s.startswith(("AK1", "AK5", "AK9"))] == [
        "AK1*RA*920", "AK5*R*1", "AK9*R*1*1*0", "AK1*PO*921", "AK5*A", "AK9*A*1*1*1",
    ]


def test_a_reply_rejecting_everything_is_not_accepted() -> None:
    decoded = CODEC.decode(_body("mailbag_three_interchanges.edi"), doc_type="invoice")
    assert decoded.reply is not None and not decoded.reply.accepted


def test_write_997_for_given_results() -> None:
    error = DocumentError("PO103: 'XX' is not a unit", pointer="/segments/7/3", segment=7,
                          segment_id="PO1", element=3, code="7")
    group = GroupAck("PO", "77", "005010", (
        set_ack("850", "0001", None), set_ack("850", "0002", error, value="XX"),
        set_ack("850", "0003", DocumentError("missing", segment=2, segment_id="BEG", code="3")),
    ), declared="3")
    body = write_997([group], sender_id="WHARF", receiver_id="ACME", control_number=12,
                     created=NOW)
    assert _segments(body)[1:] == [
        "GS*FA*WHARF*ACME*20260102*0304*77*X*005010", "ST*997*0001", "AK1*PO*77*005010",
        "AK2*850*0001", "AK5*A", "AK2*850*0002", "AK3*PO1*7**8", "AK4*3**7*XX", "AK5*R*5",
        "AK2*850*0003", "AK3*BEG*2**3", "AK5*R*5", "AK9*P*3*3*1", "SE*13*0001",
        "GE*1*77", "IEA*1*000000012",
    ]


def test_write_997_cleans_partner_identifiers() -> None:
    body = write_997([GroupAck("PO", "1", "004010", (SetAck("850", "1", "A"),))],
                     sender_id="A*VERY~LONG>IDENTIFIER-OF-MORE-THAN-15", receiver_id="",
                     control_number=0, sender_qualifier="", created=NOW)
    isa = _segments(body)[0].split("*")
    assert isa[5:9] == ["ZZ", "AVERYLONGIDENTI", "ZZ", "UNKNOWN        "]
    assert isa[13] == "000000001"


@pytest.mark.parametrize(("a", "b", "same"), [
    ("3438", "000003438", True), ("0001", "0001", True), ("0001", "0002", False),
    ("A1", "a1", False), ("", "", True),
])
def test_control_numbers_compare_ignoring_leading_zeros(a: str, b: str, same: bool) -> None:
    assert same_control(a, b) is same


def test_encode_writes_the_envelope_the_caller_asks_for() -> None:
    po = next(iter(CODEC.decode(_body("850_tilde_crlf_bom_indented.edi")).documents))
    envelope = Envelope(sender_id="NORTHWIND", receiver_id="ACME", control_number=42,
                        sender_qualifier="01", receiver_qualifier="ZZ", version="005010",
                        test=True, created=NOW)
    body = CODEC.encode(po, envelope)
    segments = _segments(body)
    isa = segments[0].split("*")
    assert len(segments[0]) + 1 == 106
    assert isa[5] == "01" and isa[11:16] == ["^", "00501", "000000042", "0", "T"]
    assert segments[1] == "GS*PO*NORTHWIND*ACME*20260102*0304*42*X*005010"
    assert segments[-2:] == ["GE*1*42", "IEA*1*000000042"]
    assert segments[-3] == f"SE*{len(segments) - 4}*0001"


@pytest.mark.parametrize("envelope", [
    Envelope(sender_id="X" * 16, receiver_id="ACME", control_number=1),
    Envelope(sender_id="A*B", receiver_id="ACME", control_number=1),
    Envelope(sender_id="A", receiver_id="ACME", control_number=0),
    Envelope(sender_id="A", receiver_id="ACME", control_number=1, version="4010"),
    Envelope(sender_id="A", receiver_id="ACME", control_number=1, sender_qualifier="ZZZ"),
])
def test_envelopes_that_cannot_be_written_are_programming_errors(envelope: Envelope) -> None:
    po = next(iter(CODEC.decode(_body("850_tilde_crlf_bom_indented.edi")).documents))
    with pytest.raises(ValueError, match="x12"):
        CODEC.encode(po, envelope)


def test_the_codec_is_a_codec_and_a_writer() -> None:
    from wharf.codecs.base import Codec, Writer

    codec: Codec = CODEC
    writer: Writer = CODEC
    assert codec.format == writer.format == "x12"


def test_a_broken_997_is_an_error_part_and_still_not_acknowledged() -> None:
    body = (FIXTURES / "997_inbound_rejects_850.edi").read_bytes().replace(b"SE*8*0018",
                                                                          b"SE*8*0019")
    decoded = CODEC.decode(body)
    (part,) = decoded.parts
    assert part.error is not None and part.error.code == "3"
    assert decoded.reply is None and decoded.acks == []
