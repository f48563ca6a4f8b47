"""Codec speed: supplier bytes to canonical documents, next to bare parsers of the same bytes.

Every measurement runs on the same files in the same process: the real-world samples in
``../shared/samples`` (a format whose folder is absent is skipped) and the hand-written
fixtures in ``tests/codecs/fixtures``. A file takes part when Wharf makes at least one canonical
document of it and its name is not marked NEG/MALFORMED; for X12 only 850, 856 and 810 files.

* X12: ``X12Codec().decode`` (tokenize, envelopes, HL tree, canonical documents, the 997) vs
  pyx12 4.x ``X12Reader`` merely iterating the segments, and vs a bare ``str.split`` on the
  terminator and the element separator read from ISA. Each peer runs on the files it accepts
  (pyx12 refuses several ISA versions, a BOM, bare ST..SE bodies, EBCDIC); Wharf is measured
  again on exactly that subset for the ratio.
* EDIFACT: ``EdifactCodec().decode`` vs ``pydifact`` ``Interchange.from_str``.
* cXML and UBL: ``CxmlCodec``/``UblCodec().decode`` vs a bare ``defusedxml.ElementTree``
  and a bare ``lxml.etree`` ``fromstring`` of the same bytes.
* Canonical JSON: ``wharf.model.decode_document`` vs ``msgspec.json.decode`` (untyped), on the
  canonical JSON of every document decoded above plus ``examples/ship-notice.json``.

Peers that read text get ``bytes.decode`` inside the timed work (UTF-8 with its BOM removed,
else Latin-1), as Wharf decodes its bytes itself. The 997/CONTRL cost is the difference with a
codec whose reply step is skipped; Wharf's tokenizers alone are measured too, to show how the
time splits between tokenizing and building documents. Each measurement is a pass over its
files, repeated for about ``ROUND_SECONDS`` (default 1.0); the best of 3 rounds is kept.

Usage: python bench/codecs.py [ROUND_SECONDS]
"""

from __future__ import annotations

import gc
import io
import math
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import defusedxml.ElementTree as DET
import lxml.etree as LET
import msgspec
import pyx12.errors
from pydifact.segmentcollection import Interchange
from pyx12.x12file import X12Reader

from wharf.codecs.cxml.codec import CxmlCodec
from wharf.codecs.edifact.codec import EdifactCodec
from wharf.codecs.edifact.syntax import read_body
from wharf.codecs.ubl.codec import UblCodec
from wharf.codecs.x12.codec import X12Codec
from wharf.codecs.x12.tokenizer import decode_text, tokenize
from wharf.errors import DocumentError
from wharf.model import decode_document, encode_document

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from wharf.codecs.base import Codec, Reply
    from wharf.codecs.edifact.contrl import Outcome
    from wharf.codecs.edifact.envelope import Interchange as EdifactInterchange
    from wharf.codecs.x12.ack import GroupAck
    from wharf.codecs.x12.envelope import Interchange as X12Interchange
    from wharf.model import Document

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples"
FIXTURES = ROOT / "tests" / "codecs" / "fixtures"
X12_TYPES = ("850", "856", "810")


@dataclass(frozen=True, slots=True)
class Sample:
    """One input file and what Wharf makes of it."""

    name: str
    body: bytes
    documents: int
    segments: int
    """Segments as Wharf's tokenizer counts them, envelope included (0 for XML and JSON)."""


@dataclass(frozen=True, slots=True)
class Rate:
    """The best pass of one reader over one set of files."""

    label: str
    samples: Sequence[Sample]
    seconds: float
    """Seconds per pass over every file of the set."""

    @property
    def documents(self) -> int:
        return sum(s.documents for s in self.samples)

    @property
    def segments(self) -> int:
        return sum(s.segments for s in self.samples)

    @property
    def size(self) -> int:
        return sum(len(s.body) for s in self.samples)

    def row(self) -> str:
        segments = f"{self.segments / self.seconds:>12,.0f}" if self.segments else f"{'-':>12}"
        per_segment = (
            f"{self.seconds / self.segments * 1e6:>8.2f}" if self.segments else f"{'-':>8}"
        )
        return (
            f"{self.label:<44}{len(self.samples):>6}{self.documents / self.seconds:>11,.0f}"
            f"{segments}{per_segment}{self.size / self.seconds / 1e6:>9.2f}"
        )


HEADER = (
    f"{'reader':<44}{'files':>6}{'docs/s':>11}{'segments/s':>12}{'µs/seg':>8}{'MB/s':>9}"
)


# --- the work measured --------------------------------------------------------------------------


def as_text(body: bytes) -> str:
    """Bytes as a text-reading peer gets them: UTF-8 without BOM, else Latin-1."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def x12_split(text: str) -> list[list[str]]:
    """The bare tokenization: element separator and terminator read from ISA, two splits."""
    element = text[3]
    at = 0
    for _ in range(16):
        at = text.index(element, at) + 1
    terminator = text[at + 1]  # after ISA16
    if terminator.isspace():
        terminator = "\n"
    return [t.split(element) for s in text.split(terminator) if (t := s.strip())]


def pyx12_read(text: str) -> int:
    """pyx12 tokenizing (and checking envelope counts), no maps: the segments it yields."""
    return sum(1 for _ in X12Reader(io.StringIO(text)))


class X12WithoutReply(X12Codec):
    """The X12 codec with its 997 step skipped, to show what the 997 costs."""

    def _reply(self, interchange: X12Interchange, verdicts: list[GroupAck]) -> bytes:
        return b""


class EdifactWithoutReply(EdifactCodec):
    """The EDIFACT codec with its CONTRL step skipped."""

    def _reply(self, answered: list[tuple[EdifactInterchange, list[Outcome]]]) -> Reply | None:
        return None


def decode_all(codec: Codec, bodies: Sequence[bytes]) -> Callable[[], None]:
    def work() -> None:
        for body in bodies:
            codec.decode(body)

    return work


def each(function: Callable[[bytes], object], bodies: Sequence[bytes]) -> Callable[[], None]:
    def work() -> None:
        for body in bodies:
            function(body)

    return work


# --- timing --------------------------------------------------------------------------------------


def best_pass(work: Callable[[], None], round_seconds: float) -> float:
    """Seconds per call of ``work``: loops sized to ``round_seconds``, best of 3 rounds."""
    work()  # warm caches (compiled decoders, regexes, pyx12's code tables)
    loops, elapsed = 1, 0.0
    while elapsed < 0.2:
        start = time.perf_counter()
        for _ in range(loops):
            work()
        elapsed = time.perf_counter() - start
        if elapsed < 0.2:
            loops *= 2
    loops = max(1, math.ceil(loops * round_seconds / elapsed))
    best = math.inf
    for _ in range(3):
        gc.collect()
        start = time.perf_counter()
        for _ in range(loops):
            work()
        best = min(best, (time.perf_counter() - start) / loops)
    return best


# --- the files -----------------------------------------------------------------------------------


def files(fmt: str, suffix: str) -> list[Path]:
    found: list[Path] = []
    for folder in (SAMPLES / fmt, FIXTURES / fmt):
        if folder.is_dir():
            found += sorted(p for p in folder.glob(f"*{suffix}")
                            if "NEG" not in p.name and "MALFORMED" not in p.name)
    return found


def corpus(
    codec: Codec, paths: Sequence[Path], count: Callable[[bytes], int], keep: list[Document]
) -> tuple[list[Sample], list[str]]:
    """The files Wharf decodes to at least one document; the names of those it does not."""
    samples: list[Sample] = []
    left_out: list[str] = []
    for path in paths:
        body = path.read_bytes()
        try:
            documents = codec.decode(body).documents
        except DocumentError:
            documents = []
        if not documents:
            left_out.append(path.name)
            continue
        keep += documents
        samples.append(Sample(path.name, body, len(documents), count(body)))
    return samples, left_out


def accepted_by(read: Callable[[bytes], object], samples: Sequence[Sample],
                errors: tuple[type[Exception], ...]) -> list[Sample]:
    """The samples a peer reads without raising one of its errors."""
    accepted = []
    for sample in samples:
        try:
            read(sample.body)
        except errors:
            continue
        accepted.append(sample)
    return accepted


def x12_segments(body: bytes) -> int:
    return sum(len(ic.segments) for ic in tokenize(decode_text(body)))


def edifact_segments(body: bytes) -> int:
    return len(read_body(body).segments)


# --- the run -------------------------------------------------------------------------------------


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def main(round_seconds: float) -> None:
    warnings.simplefilter("ignore")  # pydifact warns about every directory it has no XML for
    say(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start")
    say(f"round: ~{round_seconds} s, best of 3; samples: {SAMPLES}"
        + ("" if SAMPLES.is_dir() else " (absent: fixtures only)"))
    documents: list[Document] = []
    rates: list[Rate] = []
    ratios: list[str] = []

    def measure(label: str, samples: Sequence[Sample], work: Callable[[], None]) -> Rate:
        rate = Rate(label, samples, best_pass(work, round_seconds))
        rates.append(rate)
        return rate

    # X12 -----------------------------------------------------------------------------------------
    x12_paths = [p for p in files("x12", ".edi") if p.name[:3] in X12_TYPES]
    x12, left_out = corpus(X12Codec(), x12_paths, x12_segments, documents)
    if x12:
        bodies = [s.body for s in x12]
        wharf = measure("X12 → canonical + 997 (Wharf)", x12, decode_all(X12Codec(), bodies))
        silent = measure("X12 → canonical, no 997 (Wharf)", x12,
                       decode_all(X12WithoutReply(), bodies))
        measure("X12 tokenize only (Wharf tokenizer)", x12, each(x12_segments, bodies))
        ratios.append(
            f"X12 997: {(wharf.seconds - silent.seconds) / wharf.seconds:.0%} of decode time, "
            f"{(wharf.seconds - silent.seconds) / len(x12) * 1e6:.0f} µs per file"
        )
        readable = accepted_by(lambda b: pyx12_read(as_text(b)), x12, (pyx12.errors.X12Error,))
        if readable:
            ours = measure(f"X12 → canonical + 997 (Wharf), pyx12's {len(readable)}", readable,
                           decode_all(X12Codec(), [s.body for s in readable]))
            peer = measure("X12 tokenize only (pyx12 X12Reader)", readable,
                           each(lambda b: pyx12_read(as_text(b)), [s.body for s in readable]))
            ratios.append(
                f"X12 vs pyx12 on the {len(readable)} of {len(x12)} files pyx12 reads: Wharf "
                f"{peer.seconds / ours.seconds:.2f}× faster (goal ≥ 5×)"
            )
        splittable = [s for s in x12 if as_text(s.body).startswith("ISA")]
        ours = (wharf if len(splittable) == len(x12) else
                measure(f"X12 → canonical + 997 (Wharf), split's {len(splittable)}", splittable,
                        decode_all(X12Codec(), [s.body for s in splittable])))
        peer = measure("X12 bare str.split", splittable,
                       each(lambda b: x12_split(as_text(b)), [s.body for s in splittable]))
        ratios.append(
            f"X12 vs bare split on the {len(splittable)} files with an ASCII ISA: Wharf takes "
            f"{ours.seconds / peer.seconds:.1f}× as long (goal ≤ 5×)"
        )
        say(f"X12: {len(x12)} files ({len(left_out)} left out: {', '.join(left_out) or '-'})")

    # EDIFACT ---------------------------------------------------------------------------------------
    edifact, left_out = corpus(EdifactCodec(), files("edifact", ".edi"), edifact_segments,
                               documents)
    if edifact:
        bodies = [s.body for s in edifact]
        wharf = measure("EDIFACT → canonical + CONTRL (Wharf)", edifact,
                        decode_all(EdifactCodec(), bodies))
        silent = measure("EDIFACT → canonical, no CONTRL (Wharf)", edifact,
                       decode_all(EdifactWithoutReply(), bodies))
        measure("EDIFACT tokenize only (Wharf read_body)", edifact,
                each(edifact_segments, bodies))
        ratios.append(
            f"EDIFACT CONTRL: {(wharf.seconds - silent.seconds) / wharf.seconds:.0%} of decode "
            f"time, {(wharf.seconds - silent.seconds) / len(edifact) * 1e6:.0f} µs per file"
        )

        def pydifact_read(body: bytes) -> object:
            return Interchange.from_str(as_text(body))

        # pydifact has no one error root (EDISyntaxError, ValueError, IndexError...).
        readable = accepted_by(pydifact_read, edifact, (Exception,))
        ours = (wharf if len(readable) == len(edifact) else
                measure(f"EDIFACT → canonical (Wharf), pydifact's {len(readable)}", readable,
                        decode_all(EdifactCodec(), [s.body for s in readable])))
        peer = measure("EDIFACT parse (pydifact Interchange.from_str)", readable,
                       each(pydifact_read, [s.body for s in readable]))
        ratios.append(
            f"EDIFACT vs pydifact on {len(readable)} of {len(edifact)} files: Wharf "
            f"{peer.seconds / ours.seconds:.1f}× faster (goal ≥ 20×)"
        )
        say(f"EDIFACT: {len(edifact)} files ({len(left_out)} left out: "
            f"{', '.join(left_out) or '-'})")

    # cXML and UBL ----------------------------------------------------------------------------------
    xml_codecs: tuple[tuple[str, Codec], ...] = (("cXML", CxmlCodec()), ("UBL", UblCodec()))
    for name, codec in xml_codecs:
        xml, left_out = corpus(codec, files(name.lower(), ".xml"), lambda _: 0, documents)
        if not xml:
            continue
        bodies = [s.body for s in xml]
        ours = measure(f"{name} → canonical (Wharf)", xml, decode_all(codec, bodies))
        defused = measure(f"{name} bare defusedxml fromstring", xml, each(DET.fromstring, bodies))
        bare_lxml = measure(f"{name} bare lxml fromstring", xml, each(LET.fromstring, bodies))
        ratios.append(
            f"{name}: Wharf takes {ours.seconds / defused.seconds:.2f}× a bare defusedxml parse, "
            f"{ours.seconds / bare_lxml.seconds:.1f}× a bare lxml parse (goal ≤ 3×)"
        )
        say(f"{name}: {len(xml)} files ({len(left_out)} left out: {', '.join(left_out) or '-'})")

    # Canonical JSON --------------------------------------------------------------------------------
    bodies = [encode_document(d) for d in documents]
    bodies.append((ROOT / "examples" / "ship-notice.json").read_bytes())
    json_samples = [Sample(f"json-{i}", b, 1, 0) for i, b in enumerate(bodies)]
    ours = measure("canonical JSON → document (Wharf)", json_samples,
                   each(decode_document, bodies))
    peer = measure("bare msgspec.json.decode (untyped)", json_samples,
                   each(msgspec.json.decode, bodies))
    ratios.append(
        f"canonical JSON: Wharf takes {ours.seconds / peer.seconds:.2f}× a bare msgspec decode "
        f"({len(bodies)} documents)"
    )

    say()
    say(HEADER)
    for rate in rates:
        say(rate.row())
    say()
    for line in ratios:
        say(line)
    say(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
