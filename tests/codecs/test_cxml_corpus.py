"""Every cXML sample in ../shared/samples decodes, or is rejected as its name predicts."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from wharf.codecs.base import Envelope
from wharf.codecs.cxml import CxmlCodec
from wharf.errors import DocumentError, MalformedDocument

SAMPLES = Path(__file__).parents[2].parent / "shared" / "samples" / "cxml"
FILES = sorted(p.name for p in SAMPLES.glob("*.xml")) if SAMPLES.is_dir() else []

EXPECTED = {"decoded": 9, "rejected as named": 0}

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not FILES, reason="../shared/samples/cxml is absent"),
]


def outcome(name: str) -> str:
    body = (SAMPLES / name).read_bytes()
    negative = "NEG" in name or "MALFORMED" in name
    try:
        decoded = CxmlCodec().decode(body)
    except MalformedDocument as exc:
        assert negative, f"{name}: {exc.detail}"
        assert exc.pointer is not None
        return "rejected as named"
    if decoded.errors:
        [error] = decoded.errors
        assert decoded.reply is not None and not decoded.reply.accepted
        assert negative, f"{name}: {error.pointer}: {error.detail}"
        assert error.pointer
        return "rejected as named"
    assert not negative, f"{name} should have been rejected"
    assert decoded.reply is not None and decoded.reply.accepted
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
def test_no_sample_secret_leaks(name: str) -> None:
    body = (SAMPLES / name).read_bytes()
    secrets = [s for s in re.findall(rb"<SharedSecret>([^<]+)</SharedSecret>", body) if len(s) > 3]
    try:
        decoded = CxmlCodec().decode(body)
    except DocumentError as exc:
        seen = repr((exc.detail, exc.pointer)).encode()
    else:
        seen = repr((decoded.parts, decoded.acks)).encode() + (
            decoded.reply.body if decoded.reply else b""
        )
    for secret in secrets:
        assert secret not in seen


@pytest.mark.parametrize("name", FILES)
def test_decoded_samples_survive_a_write_and_read(name: str) -> None:
    codec = CxmlCodec()
    decoded = codec.decode((SAMPLES / name).read_bytes())
    envelope = Envelope(sender_id="WHARF", receiver_id="PARTNER", control_number=7)
    for document in decoded.documents:
        again = codec.decode(codec.encode(document, envelope)).documents
        assert [msgspec.structs.replace(d, source=None) for d in again] == [
            msgspec.structs.replace(document, source=None)
        ]
