"""``wharf mapping test MAPPING SAMPLE...``: what a mapping makes of a supplier's samples.

Onboarding a supplier is: write the mapping, run it on their sample files, read the canonical
result and the pointed errors, repeat. This prints, per sample, every document as pretty
canonical JSON or every error with the pointer into the sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from wharf.codecs.mapping.json_codec import MappedJsonCodec
from wharf.codecs.mapping.loader import load_mapping
from wharf.errors import DocumentError, PolicyError
from wharf.model import encode_document

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import TextIO

    from wharf.codecs.base import Codec

__all__ = ("run_mapping_test",)


def _error_line(error: DocumentError) -> str:
    pointer = f" at {error.pointer}" if error.pointer else ""
    return f"error{pointer}: {error.detail}"


def run_mapping_test(mapping_path: Path, samples: Sequence[Path], out: TextIO) -> int:
    """Decode each sample with the mapping and print the result; 0 if all decoded, else 1."""
    try:
        mapping = load_mapping(mapping_path)
    except PolicyError as exc:
        out.write(f"mapping error: {exc}\n")
        return 1
    # csv_flat builds on this package, so it is imported here rather than at the top.
    from wharf.codecs.csv_flat import CsvCodec

    codec: Codec = MappedJsonCodec(mapping) if mapping.input == "json" else CsvCodec(mapping)
    ok = True
    for sample in samples:
        out.write(f"== {sample}\n")
        try:
            body = sample.read_bytes()
        except OSError as exc:
            out.write(f"cannot read: {exc.strerror}\n")
            ok = False
            continue
        try:
            decoded = codec.decode(body)
        except DocumentError as exc:
            out.write(_error_line(exc) + "\n")
            ok = False
            continue
        for part in decoded.parts:
            out.write(f"-- {part.where}\n")
            if part.document is not None:
                text = msgspec.json.format(encode_document(part.document), indent=2)
                out.write(text.decode() + "\n")
            else:
                assert part.error is not None
                out.write(_error_line(part.error) + "\n")
                ok = False
    documents = "all samples decoded" if ok else "some samples did not decode"
    out.write(f"{documents} ({mapping.name}, {mapping.doc_type})\n")
    return 0 if ok else 1
