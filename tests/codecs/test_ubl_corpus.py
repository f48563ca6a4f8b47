"""Every UBL sample in ../shared/samples decodes, or is rejected as its name predicts."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from wharf.codecs.base import Envelope
from wharf.codecs.ubl import UblCodec
from wharf.errors import MalformedDocument

SAMPLES = Path(__file__).parents[2].parent / "shared" / "samples" / "ubl"
FILES = sorted(p.name for p in SAMPLES.glob("*.xml")) if SAMPLES.is_dir() else []

KNOWN_GAPS = {
    # An Order with an empty <cbc:ID/> (CEN BII "minimal" example): a PO without a number
    # cannot be keyed, matched or acknowledged, so it is rejected (see the report).
    "Order_UBL20_cenbii_minimal_empty_id.xml": "/Order/cbc:ID",
}
EXPECTED = {"decoded": 11, "rejected as named": 0, "known gap": 1}

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not FILES, reason="../shared/samples/ubl is absent"),
]


def outcome(name: str) -> str:
    body = (SAMPLES / name).read_bytes()
    negative = "NEG" in name or "MALFORMED" in name
    try:
        decoded = UblCodec().decode(body)
    except MalformedDocument as exc:
        assert negative, f"{name}: {exc.detail}"
        assert exc.pointer is not None
        return "rejected as named"
    if decoded.errors:
        [error] = decoded.errors
        if name in KNOWN_GAPS:
            assert error.pointer == KNOWN_GAPS[name]
            return "known gap"
        assert negative, f"{name}: {error.pointer}: {error.detail}"
        assert error.pointer
        return "rejected as named"
    assert not negative, f"{name} should have been rejected"
    return "decoded"


@pytest.mark.parametrize("name", FILES)
def test_sample(name: str) -> None:
    outcome(name)


def test_corpus_counts() -> None:
    counts = dict.fromkeys(EXPECTED, 0)
    for name in FILES:
        counts[outcome(name)] += 1
    assert counts == EXPECTED


@pytest.mark.parametrize("name", FILES)
def test_decoded_samples_survive_a_write_and_read(name: str) -> None:
    codec = UblCodec()
    decoded = codec.decode((SAMPLES / name).read_bytes())
    envelope = Envelope(sender_id="WHARF", receiver_id="PARTNER", control_number=7)
    for document in decoded.documents:
        again = codec.decode(codec.encode(document, envelope)).documents
        assert [msgspec.structs.replace(d, source=None) for d in again] == [
            msgspec.structs.replace(document, source=None)
        ]
