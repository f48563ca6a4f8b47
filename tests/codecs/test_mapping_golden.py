"""Golden files: what each supplier's mapping makes of its samples, checked into the repository.

Every (mapping, sample) pair below is decoded and compared with
``tests/codecs/golden/mappings/<name>.json`` (one entry per part: the canonical document, or
the error with its pointer). After an intended change, regenerate with
``WHARF_UPDATE_GOLDEN=1 .venv/bin/pytest tests/codecs/test_mapping_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest

from wharf.codecs.csv_flat import CsvCodec
from wharf.codecs.mapping import MappedJsonCodec, load_mapping
from wharf.model import encode_document

ROOT = Path(__file__).parents[2]
HERE = Path(__file__).parent
EXAMPLES = ROOT / "examples" / "mappings"
MAPPINGS = HERE / "fixtures" / "mapping"
CSV = HERE / "fixtures" / "csv"
GOLDEN = HERE / "golden" / "mappings"

# name → (mapping file or None for the built-in template, sample)
PAIRS: dict[str, tuple[Path | None, Path]] = {
    # the README's onboarding example
    "acme-ack": (EXAMPLES / "acme-ack.toml", EXAMPLES / "acme-ack.json"),
    "globex-asn": (EXAMPLES / "globex-asn.toml", EXAMPLES / "globex-asn.csv"),
    # supplier JSON dialects
    "multi-asn": (MAPPINGS / "multi-asn.toml", MAPPINGS / "multi-asn.json"),
    "invoice": (MAPPINGS / "invoice.toml", MAPPINGS / "invoice.json"),
    # CSV dialects and the built-in templates
    "latin1-catalog": (MAPPINGS / "latin1-catalog.toml", CSV / "price_catalog_latin1.csv"),
    "headerless-inventory": (
        MAPPINGS / "headerless-inventory.toml",
        CSV / "inventory_headerless.csv",
    ),
    "template-inventory": (None, CSV / "inventory_bom_crlf.csv"),
    "template-ship-notice": (None, CSV / "ship_notice_lf_quoted_newline.csv"),
    "template-bad-values": (None, CSV / "ship_notice_bad_values_NEG.csv"),
    "template-wrong-columns": (None, CSV / "ship_notice_wrong_columns_NEG.csv"),
}


def render(mapping_path: Path | None, sample: Path) -> bytes:
    if mapping_path is None:
        codec: CsvCodec | MappedJsonCodec = CsvCodec()
    else:
        mapping = load_mapping(mapping_path)
        codec = MappedJsonCodec(mapping) if mapping.input == "json" else CsvCodec(mapping)
    parts: list[dict[str, object]] = []
    for part in codec.decode(sample.read_bytes()).parts:
        if part.document is not None:
            parts.append(
                {
                    "where": part.where,
                    "document": msgspec.json.decode(encode_document(part.document)),
                }
            )
        else:
            assert part.error is not None
            parts.append(
                {
                    "where": part.where,
                    "error": {"pointer": part.error.pointer, "detail": part.error.detail},
                }
            )
    return msgspec.json.format(msgspec.json.encode(parts), indent=2) + b"\n"


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_golden(name: str) -> None:
    mapping_path, sample = PAIRS[name]
    produced = render(mapping_path, sample)
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("WHARF_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(produced)
    assert golden.is_file(), f"no golden file {golden}; run with WHARF_UPDATE_GOLDEN=1"
    assert produced.decode() == golden.read_text(encoding="utf-8")


def test_every_golden_file_has_a_pair() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(PAIRS)
