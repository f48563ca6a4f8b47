"""CSV flat files: inventory advice, price catalogs and ship notices, in each supplier's dialect.

CSV has no standard beyond RFC 4180's quoting, so every supplier's file is read through a
mapping (:mod:`wharf.codecs.mapping`): its dialect (delimiter, quote, encoding, decimal comma),
how rows group into documents (one per distinct ``asn_number``...) and which column feeds which
canonical field. Without a supplier mapping, the built-in template for the document type is
used (picked from the typed endpoint, or from the header's id column).

Reading goes through the C ``csv`` module in one pass: cells are trimmed, blank lines (also at
the end) are skipped, a UTF-8 BOM is dropped, CRLF, LF and quoted line breaks all work. Rows
are numbered as in ``DocumentError`` pointers: the header is row 0, the first record after it
row 1. One document's bad row (wrong number of fields, a bad value) fails that document only.

Writing is the inverse of the same mapping: one row per innermost list element, the enclosing
values repeated on each row; what the layout has no column for is not written.
"""

from __future__ import annotations

import csv
import functools
import io
from typing import TYPE_CHECKING

from wharf.codecs.base import Decoded, Part
from wharf.codecs.mapping.build import decode_mapped, dotted_path
from wharf.codecs.mapping.loader import parse_mapping
from wharf.codecs.mapping.plan import LeafPlan, ObjectPlan
from wharf.codecs.mapping.sources import CsvScope, Row, Table, escape
from wharf.codecs.mapping.templates import TEMPLATES
from wharf.errors import DocumentError, MalformedDocument
from wharf.model import doc_type_of

if TYPE_CHECKING:
    from wharf.codecs.base import Envelope
    from wharf.codecs.mapping.plan import Mapping
    from wharf.model import DocType, Document
    from wharf.policies.model import Format

__all__ = ("CsvCodec", "sniff_csv", "template_mapping")

_TEMPLATE_BY_TYPE: dict[str, str] = {
    "inventory_advice": "inventory_advice_csv",
    "price_catalog": "price_catalog_csv",
    "ship_notice": "ship_notice_csv",
}
# The id column that gives a template away when the body comes without a document type.
_TEMPLATE_BY_COLUMN: dict[str, DocType] = {
    "advice_id": "inventory_advice",
    "catalog_id": "price_catalog",
    "asn_number": "ship_notice",
}


@functools.cache
def template_mapping(doc_type: DocType) -> Mapping:
    """The built-in CSV template for ``doc_type``; raises DocumentError when there is none."""
    name = _TEMPLATE_BY_TYPE.get(doc_type)
    if name is None:
        known = ", ".join(_TEMPLATE_BY_TYPE)
        raise DocumentError(f"no CSV layout for {doc_type} (CSV carries {known})", pointer="")
    return parse_mapping(TEMPLATES[name], file=f"<template {name}>", name=name)


def sniff_csv(body: bytes) -> bool:
    """True when the body's first line looks like a CSV header (for format detection)."""
    head = body[:2048].removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    if not line or line[:1] in b"{[<" or line.startswith((b"ISA", b"UNA", b"UNB")):
        return False
    return any(line.count(sep) >= 1 for sep in (b",", b";", b"\t", b"|"))


class CsvCodec:
    """Reads and writes CSV flat files through a mapping (default: the built-in templates)."""

    def __init__(self, mapping: Mapping | None = None) -> None:
        if mapping is not None and mapping.input != "csv":
            raise ValueError(f"mapping {mapping.name} reads {mapping.input}, not csv")
        self.mapping = mapping

    @property
    def format(self) -> Format:
        return "csv"

    # --- reading --------------------------------------------------------------------------

    def decode(self, body: bytes, *, doc_type: DocType | None = None) -> Decoded:
        mapping = self.mapping or self._template_for(body, doc_type)
        mapping.check_doc_type(doc_type)
        table, bad_rows = _read_table(body, mapping)
        _check_columns(table, mapping)
        parts: list[tuple[int, Part]] = []
        for key, rows, error in _documents(table, mapping, bad_rows):
            first = rows[0][0]
            span = f"row {first}" if len(rows) == 1 else f"row {first}-{rows[-1][0]}"
            label = f"{span} (document {key})" if key else span
            if error is not None:
                parts.append((first, Part(label, error=error)))
                continue
            try:
                document = decode_mapped(
                    mapping,
                    CsvScope(table, rows),
                    origin=f"/rows/{first}",
                    position=f"/rows/{first}",
                )
            except DocumentError as exc:
                parts.append((first, Part(label, error=exc)))
                continue
            if not key:
                label = f"{span} (document {document.document_id})"
            parts.append((first, Part(label, document=document)))
        parts.sort(key=lambda entry: entry[0])
        return Decoded([part for _, part in parts])

    def _template_for(self, body: bytes, doc_type: DocType | None) -> Mapping:
        if doc_type is not None:
            return template_mapping(doc_type)
        head = body[:4096].decode("latin-1").removeprefix("ï»¿").split("\n", 1)[0]
        for column, kind in _TEMPLATE_BY_COLUMN.items():
            if column in head:
                return template_mapping(kind)
        raise DocumentError(
            "cannot tell which CSV layout this is: send it to a typed endpoint or name an id "
            f"column ({', '.join(_TEMPLATE_BY_COLUMN)})",
            pointer="/rows/0",
        )

    # --- writing --------------------------------------------------------------------------

    def encode(self, document: Document, envelope: Envelope) -> bytes:
        """The document as CSV in the mapping's layout (``envelope`` is not used: CSV has none)."""
        mapping = self.mapping or template_mapping(doc_type_of(document))
        if doc_type_of(document) != mapping.doc_type:
            raise DocumentError(
                f"mapping {mapping.name} writes {mapping.doc_type}, not {doc_type_of(document)}"
            )
        options = mapping.spec.csv
        columns = _columns(mapping)
        rows: list[dict[str, str]] = []
        start = {mapping.group_by: document.document_id} if mapping.group_by else {}
        _emit(mapping.root, document, start, "", rows)
        out = io.StringIO()
        out.write("\r\n" * options.skip_rows)
        writer = csv.writer(
            out, delimiter=options.delimiter, quotechar=options.quote, lineterminator="\r\n"
        )
        if options.header:
            writer.writerow(columns)
        writer.writerows([row.get(column, "") for column in columns] for row in rows)
        try:
            return out.getvalue().encode(options.encoding)
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            raise DocumentError(f"{bad!r} cannot be written in {options.encoding}") from None


# --- reading helpers ------------------------------------------------------------------------


def _read_table(body: bytes, mapping: Mapping) -> tuple[Table, list[tuple[Row, str]]]:
    options = mapping.spec.csv
    encoding = "utf-8-sig" if options.encoding == "utf-8" else options.encoding
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        row = max(body.count(b"\n", 0, exc.start) - options.skip_rows, 0)
        raise MalformedDocument(
            f"byte 0x{body[exc.start]:02X} at offset {exc.start} is not {options.encoding}; "
            "is the file in another encoding? (mapping key csv.encoding)",
            pointer=f"/rows/{row}",
        ) from None
    text = text.removeprefix("\ufeff").removeprefix("ï»¿")
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=options.delimiter,
        quotechar=options.quote,
        strict=True,
    )
    trim = options.trim
    number = 0
    rows: list[Row] = []
    bad: list[tuple[Row, str]] = []
    try:
        for _ in range(options.skip_rows):
            next(reader, None)
        if options.header:
            header = next(reader, None)
            while header is not None and not any(cell.strip() for cell in header):
                header = next(reader, None)
            if header is None:
                raise MalformedDocument("the file is empty: no header row", pointer="/rows/0")
        else:
            header = list(options.columns)
        columns = [cell.strip() for cell in header]
        width = len(columns)
        for record in reader:
            number += 1
            stripped = [cell.strip() for cell in record]
            if not any(stripped):
                continue  # a blank line, or only delimiters
            cells = stripped if trim else record
            if len(cells) > width and not any(c.strip() for c in cells[width:]):
                del cells[width:]  # trailing delimiters
            if len(cells) != width:
                message = (
                    f"row {number} (line {reader.line_num}) has {len(cells)} fields, "
                    f"the header {width}"
                )
                bad.append(((number, cells), message))
                continue
            rows.append((number, cells))
    except csv.Error as exc:
        raise MalformedDocument(
            f"line {reader.line_num}: {exc}", pointer=f"/rows/{number + 1}"
        ) from None
    index: dict[str, int] = {}
    for position, column in enumerate(columns):
        index.setdefault(column, position)
    folded = {column.casefold(): position for column, position in reversed(index.items())}
    for column in mapping.columns:
        if column not in index and column.casefold() in folded:
            index[column] = folded[column.casefold()]
    return Table(columns, index, rows), bad


def _check_columns(table: Table, mapping: Mapping) -> None:
    missing = [c for c, required in mapping.columns.items() if required and c not in table.index]
    if missing:
        header = ", ".join(table.columns) or "nothing"
        raise DocumentError(
            f"missing required column {', '.join(repr(m) for m in missing)} (the header has "
            f"{header})",
            pointer=f"/rows/0/{escape(missing[0])}",
        )


def _documents(
    table: Table, mapping: Mapping, bad_rows: list[tuple[Row, str]]
) -> list[tuple[str, list[Row], DocumentError | None]]:
    """Rows grouped into documents: (key, rows, the first error of a bad row in it)."""
    column = mapping.group_by
    if column is None:
        if bad_rows:
            row, message = bad_rows[0]
            every = sorted([*table.rows, *(r for r, _ in bad_rows)], key=lambda r: r[0])
            return [("", every, DocumentError(message, pointer=f"/rows/{row[0]}"))]
        if not table.rows:
            raise DocumentError("no data rows after the header", pointer="/rows/1")
        return [("", table.rows, None)]
    position = table.index[column]
    groups: dict[str, list[Row]] = {}
    errors: dict[str, DocumentError] = {}
    loose: list[tuple[str, list[Row], DocumentError | None]] = []
    for row in table.rows:
        key = row[1][position]
        if not key:
            pointer = f"/rows/{row[0]}/{escape(column)}"
            loose.append(
                ("", [row], DocumentError(f"row {row[0]} has no {column}", pointer=pointer))
            )
            continue
        groups.setdefault(key, []).append(row)
    for row, message in bad_rows:
        key = row[1][position] if position < len(row[1]) else ""
        error = DocumentError(message, pointer=f"/rows/{row[0]}")
        if not key:
            loose.append(("", [row], error))
            continue
        groups.setdefault(key, []).append(row)
        errors.setdefault(key, error)
    if not groups and not loose:
        raise DocumentError("no data rows after the header", pointer="/rows/1")
    documents = [(key, sorted(rows), errors.get(key)) for key, rows in groups.items()]
    return documents + loose


# --- writing helpers ------------------------------------------------------------------------


def _columns(mapping: Mapping) -> list[str]:
    columns: dict[str, None] = {}
    if mapping.group_by:
        columns[mapping.group_by] = None

    def walk(plan: ObjectPlan) -> None:
        for leaf in plan.leaves:
            if leaf.writeback is not None:
                columns.setdefault(leaf.writeback.column, None)
        for sub in plan.objects.values():
            walk(sub)
        for array in plan.arrays.values():
            if array.group_column is not None:
                columns.setdefault(array.group_column, None)
            if isinstance(array.element, ObjectPlan):
                walk(array.element)

    walk(mapping.root)
    return list(columns)


def _cells(plan: ObjectPlan, value: object, cells: dict[str, str]) -> None:
    for leaf in plan.leaves:
        if leaf.writeback is None:
            continue
        found = getattr(value, leaf.name, None)
        if found is not None and found != ():
            cells[leaf.writeback.column] = leaf.writeback.render(found)
    for name, sub in plan.objects.items():
        found = getattr(value, name, None)
        if found is not None:
            _cells(sub, found, cells)


def _emit(
    plan: ObjectPlan, value: object, inherited: dict[str, str], at: str, out: list[dict[str, str]]
) -> None:
    cells = dict(inherited)
    _cells(plan, value, cells)
    produced = False
    for name, array in plan.arrays.items():
        if isinstance(array.element, LeafPlan):
            continue
        seen: set[str] = set()
        for index, element in enumerate(getattr(value, name, ())):
            here = f"{at}/{name}/{index}"
            start = cells
            column = array.group_column
            if column is not None:
                element_cells = dict(cells)
                _cells(array.element, element, element_cells)
                key = element_cells.get(column) or (
                    None if _writes(array.element, column) else str(index + 1)
                )
                if key is None:
                    raise DocumentError(
                        f"{dotted_path(here)} has no value for {column!r}, which this CSV "
                        "layout groups by",
                        pointer=here,
                    )
                if key in seen:
                    raise DocumentError(
                        f"{dotted_path(here)} repeats {column} {key!r}: it would be read back "
                        "merged with the earlier one",
                        pointer=here,
                    )
                seen.add(key)
                start = {**cells, column: key}
            _emit(array.element, element, start, here, out)
            produced = True
    if not produced:
        out.append(cells)


def _writes(plan: ObjectPlan, column: str) -> bool:
    return any(
        leaf.writeback is not None and leaf.writeback.column == column for leaf in plan.all_leaves()
    )
