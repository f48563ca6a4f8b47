"""The real-world X12 corpus in ../shared/samples/x12: every file decodes or fails as predicted.

A transaction set counts as *decoded* when it became a canonical document, as *rejected* when
it became a pointed error part. Expected rejections: files named NEG/MALFORMED (with the error
their name predicts) and transaction sets Wharf does not read (940 warehouse orders, 820
remittances: AK5 code 1). Nothing else is rejected: a BISG 832 book catalog without prices
becomes a catalog of price-less lines.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest

from wharf.codecs.x12 import X12Codec

SAMPLES = Path(__file__).parents[2].parent / "shared" / "samples" / "x12"
CODEC = X12Codec(clock=lambda: dt.datetime(2026, 1, 2, tzinfo=dt.UTC))

# file -> (documents, [(where, pointer, code, message fragment)], acks)
EXPECTED_REJECTIONS: dict[str, list[tuple[str, str, str, str]]] = {
    "940_4010_ediengine_control_number_mismatch_NEG.edi": [
        ("ST 0001 (940)", "/segments/5/2", "3", "SE02 '0002' does not match ST02 '0001'"),
    ],
    "940_4010_ediengine_multi_isa_multi_gs.edi": [
        (where, "/segments/1/1", "1", "transaction set 940 is not supported")
        for where in ["ST 0001 (940)", "ST 0002 (940)", "ST 0001 (940)"] * 2
    ],
    "MIXED_bots_mailbag_997_850_820_nak_term.edi": [
        (where, "/segments/1/1", "1", "transaction set 820 is not supported")
        for where in ["ST 017001511 (820)", "ST 017001512 (820)"]
    ],
}


def _samples() -> list[Path]:
    if not SAMPLES.is_dir():
        return []
    return sorted(SAMPLES.glob("*.edi"))


@pytest.mark.corpus
def test_every_x12_sample_decodes_or_is_rejected_as_predicted() -> None:
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} is absent")
    counts = {"files": 0, "documents": 0, "expected rejections": 0, "acks": 0, "replies": 0}
    unexpected: list[str] = []
    for path in _samples():
        counts["files"] += 1
        decoded = CODEC.decode(path.read_bytes())
        counts["documents"] += len(decoded.documents)
        counts["acks"] += len(decoded.acks)
        counts["replies"] += decoded.reply is not None
        for document in decoded.documents:
            # Every decoded document is a valid canonical document on the wire too.
            msgspec.convert(msgspec.to_builtins(document), type(document))
        got = [(part.where, part.error.pointer, part.error.code, str(part.error))
               for part in decoded.parts if part.error is not None]
        expected = EXPECTED_REJECTIONS.get(path.name, [])
        if len(got) != len(expected) or any(
            (where, pointer, code) != (g_where, g_pointer, g_code) or fragment not in message
            for (where, pointer, code, fragment), (g_where, g_pointer, g_code, message)
            in zip(expected, got, strict=False)
        ):
            unexpected.append(f"{path.name}: {got}")
        counts["expected rejections"] += len(expected)
        if "NEG" in path.name or "MALFORMED" in path.name:
            assert got, f"{path.name} should be rejected"
    print("x12 corpus:", counts)  # noqa: T201 - the corpus test reports its counts
    assert unexpected == []
    assert counts == {"files": 54, "documents": 73, "expected rejections": 9, "acks": 1,
                      "replies": 52}


@pytest.mark.corpus
def test_the_bisg_book_catalog_lists_its_titles_without_prices() -> None:
    from wharf.model import PriceCatalog

    path = SAMPLES / "832_4010_edinet_bisg_books.edi"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    decoded = CODEC.decode(path.read_bytes())
    assert decoded.errors == []
    (catalog,) = decoded.documents
    assert isinstance(catalog, PriceCatalog)
    assert [(line.item.supplier_part, line.unit_price, line.price_uom)
            for line in catalog.lines] == [("0940016699", None, None), ("0812976568", None, None)]
    assert catalog.lines[1].item.description == "Hello World"


@pytest.mark.corpus
@pytest.mark.parametrize("path", _samples(), ids=lambda path: path.name)
def test_every_x12_sample_round_trips_through_the_writer_when_it_can(path: Path) -> None:
    from wharf.codecs.base import Envelope
    from wharf.model import Invoice, POAcknowledgment, PurchaseOrder, ShipNotice

    envelope = Envelope(sender_id="WHARF", receiver_id="PARTNER", control_number=1)
    for document in CODEC.decode(path.read_bytes()).documents:
        if not isinstance(document, PurchaseOrder | POAcknowledgment | ShipNotice | Invoice):
            continue
        decoded = CODEC.decode(CODEC.encode(document, envelope))
        assert decoded.errors == []
        (again,) = decoded.documents
        # Writing loses only what X12 cannot say the way we write it (see the writers' docs).
        assert type(again) is type(document)
        assert again.document_id == document.document_id
