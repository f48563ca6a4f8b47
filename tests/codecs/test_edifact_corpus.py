"""The real-world EDIFACT samples in ../shared/samples/edifact: each decodes or fails as named.

Every file either decodes into canonical documents, or (NEG/MALFORMED in its name) is rejected
with the pointed error the name predicts. The mixed interchange is cut into its four messages,
each with its own fate: two IFTMIN (not a type Wharf maps: 0085 code 17) and two INVOIC that
hold nothing but a date (code 13: no currency, no lines).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from wharf.codecs.edifact import EdifactCodec
from wharf.errors import DocumentError
from wharf.model import doc_type_of

SAMPLES = Path(__file__).parents[2].parent / "shared" / "samples" / "edifact"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples is not present"),
]

# file -> (documents by doc_type, 0085 codes of the error parts in order)
EXPECTED: dict[str, tuple[dict[str, int], list[str]]] = {
    "DESADV_D96A_EAN005_bots_3msgs.edi": ({"ship_notice": 3}, []),
    "DESADV_D96A_EAN005_bots_dutch_8msgs_big_qty.edi": ({"ship_notice": 8}, []),
    "DESADV_D96A_phpedifact_book_distributor.edi": ({"ship_notice": 1}, []),
    "DESADV_D96A_phpedifact_utf8_in_UNOC1.edi": ({"ship_notice": 1}, []),
    "INVOIC_D01B_EAN011_edinet_indented.edi": ({"invoice": 1}, []),
    "INVOIC_D96A_bots_2msgs.edi": ({"invoice": 2}, []),
    "INVOIC_D97A_pydifact_vauxhall.edi": ({"invoice": 1}, []),
    "MIXED_IFTMIN_INVOIC_D96A_edinet_multi_msg.edi": ({}, ["17", "13", "17", "13"]),
    "ORDERS_D01B_EAN010_phpedifact_146lines_latin1.edi": ({"purchase_order": 1}, []),
    "ORDERS_D01B_EAN010_phpedifact_bad_escapes_NEG.edi": ({}, ["22"]),
    "ORDERS_D96A_EAN008_pydifact_una_decimal_comma_no_UNZ.edi": ({"purchase_order": 1}, []),
    "ORDERS_D96A_pydifact_minimal_no_UNA.edi": ({"purchase_order": 1}, []),
    "ORDRSP_D10A_edinet_single_line_release_char.edi": ({"acknowledgment": 1}, []),
}


def samples() -> list[Path]:
    return sorted(SAMPLES.iterdir()) if SAMPLES.is_dir() else []


def test_every_sample_is_expected() -> None:
    assert sorted(p.name for p in samples()) == sorted(EXPECTED)


@pytest.mark.parametrize("path", samples(), ids=lambda p: p.name)
def test_sample_decodes_or_fails_as_named(path: Path) -> None:
    documents, codes = EXPECTED[path.name]
    decoded = EdifactCodec().decode(path.read_bytes())
    assert dict(Counter(doc_type_of(d) for d in decoded.documents)) == documents
    assert [e.code for e in decoded.errors] == codes
    for error in decoded.errors:
        assert isinstance(error, DocumentError)
        assert error.pointer and error.pointer.startswith("/segments/")
        assert error.segment is not None and error.segment_id
    assert decoded.reply is not None
    assert decoded.reply.accepted == bool(decoded.documents)
    if "NEG" in path.name or "MALFORMED" in path.name:
        assert not decoded.documents
        (error,) = decoded.errors
        assert "release character" in error.detail
        assert (error.segment_id, error.element) == ("IMD", 3)


def test_corpus_counts() -> None:
    decoded = rejected = split = documents = 0
    for path in samples():
        result = EdifactCodec().decode(path.read_bytes())
        documents += len(result.documents)
        if "NEG" in path.name or "MALFORMED" in path.name:
            rejected += not result.documents
        elif result.documents and not result.errors:
            decoded += 1
        else:
            split += 1
    assert (decoded, rejected, split, documents) == (11, 1, 1, 21)


def test_the_146_line_order_keeps_every_line() -> None:
    path = SAMPLES / "ORDERS_D01B_EAN010_phpedifact_146lines_latin1.edi"
    (order,) = EdifactCodec().decode(path.read_bytes()).documents
    assert len(order.lines) == 146  # type: ignore[union-attr]
