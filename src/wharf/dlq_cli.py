"""``wharf dlq list|replay``: the dead-letter routes of the internal API, from a terminal.

The functions here speak HTTP to a running Wharf (its internal listener) and write a readable
table or diff to ``out``; :mod:`wharf.cli` parses the command line and calls them.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

__all__ = ("add_filter_arguments", "dlq_list", "dlq_replay", "filters_from")

FILTERS = ("partner", "type", "error_class", "since", "until", "limit")
_REASON_WIDTH = 80


def add_filter_arguments(parser: argparse.ArgumentParser, *, seqs: bool = False) -> None:
    """The selection options shared by ``dlq list`` and ``dlq replay``."""
    parser.add_argument("--url", help="internal listener URL (default from settings)")
    parser.add_argument("--partner", help="partner id")
    parser.add_argument("--type", help="document type (invoice, ship_notice, ...)")
    parser.add_argument("--error-class", dest="error_class", choices=("transient", "permanent"))
    parser.add_argument("--since", help="ISO 8601 time or an age such as 30m, 6h, 2d")
    parser.add_argument("--until", help="ISO 8601 time or an age such as 30m, 6h, 2d")
    parser.add_argument("--limit", type=int, help="at most this many (default 100, max 1000)")
    if seqs:
        parser.add_argument("seqs", nargs="*", type=int, metavar="SEQ",
                            help="dead-letter sequence numbers (as `dlq list` shows them)")


def filters_from(args: argparse.Namespace) -> dict[str, Any]:
    """The filters given on the command line, ready for :func:`dlq_list` / :func:`dlq_replay`."""
    found: dict[str, Any] = {
        name: getattr(args, name) for name in FILTERS if getattr(args, name, None) is not None
    }
    if getattr(args, "seqs", None):
        found["seqs"] = list(args.seqs)
    return found


def _call(
    request: urllib.request.Request, timeout: float, out: IO[str], what: str
) -> Any | None:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        detail = ""
        with contextlib.suppress(ValueError):
            body = json.load(exc)
            detail = body.get("detail") or body.get("title") or ""
            if body.get("pointer") is not None:
                detail += f" (at {body['pointer'] or '/'})"
        out.write(f"wharf: dlq {what}: {exc.code} {detail}\n")
    except urllib.error.URLError as exc:
        out.write(f"wharf: dlq {what}: cannot reach {request.full_url}: {exc.reason}\n")
    except TimeoutError:
        out.write(f"wharf: dlq {what}: no answer from {request.full_url} in {timeout:g} s\n")
    return None


def _table(rows: list[list[str]], out: IO[str]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        out.write("  ".join(cells).rstrip() + "\n")


def _short(text: str | None, width: int = _REASON_WIDTH) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(value: str | None) -> str:
    return "-" if not value else value.replace("T", " ")[:19] + "Z"


def dlq_list(url: str, filters: Mapping[str, Any], out: IO[str]) -> int:
    """Print the dead letters matching ``filters`` (``partner``, ``type``, ``error_class``,
    ``since``, ``until``, ``limit``) as a table; 0 on success, 1 if the API refused."""
    query = urllib.parse.urlencode(
        {k: v for k, v in filters.items() if k in FILTERS and v is not None}
    )
    request = urllib.request.Request(f"{url.rstrip('/')}/internal/v1/dlq?{query}")
    letters = _call(request, 30, out, "list")
    if letters is None:
        return 1
    if not letters:
        out.write("no dead letters match\n")
        return 0
    rows = [["SEQ", "PARKED (UTC)", "PARTNER", "TYPE", "CLASS", "STEP", "TRIES",
             "CORRELATION ID", "REPLAYED", "REASON"]]
    rows.extend(
        [
            str(letter["seq"]), _when(letter["time"]), letter["partner"],
            letter.get("doc_type") or "-", letter.get("error_class") or "?",
            letter.get("step") or "-", str(letter.get("deliveries") or "-"),
            letter.get("correlation_id") or "-", _when(letter.get("replayed_at")),
            _short(letter.get("reason")),
        ]
        for letter in letters
    )
    _table(rows, out)
    out.write(f"{len(letters)} dead letter{'s' if len(letters) != 1 else ''}\n")
    return 0


def _value(value: object) -> str:
    return _short(json.dumps(value, ensure_ascii=False), 60)


_OPS = {"changed": "~", "added": "+", "removed": "-"}


def dlq_replay(url: str, filters: Mapping[str, Any], dry_run: bool, out: IO[str]) -> int:
    """Dry-run (or, with ``dry_run=False``, perform) a replay and print each dead letter's
    outcome and diff; 0 on success, 1 if the API refused or a document could not be replayed."""
    selection = {k: v for k, v in filters.items() if v is not None}
    with contextlib.suppress(OSError, KeyError):
        selection.setdefault("operator", getpass.getuser())
    request = urllib.request.Request(
        f"{url.rstrip('/')}/internal/v1/dlq/replay",
        data=json.dumps({**selection, "dry_run": dry_run}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    # Real replays are paced by the server (a token bucket): allow for a long batch.
    report = _call(request, 60 if dry_run else 900, out, "replay")
    if report is None:
        return 1
    out.write("dry run: nothing was published\n" if dry_run else "replay:\n")
    for item in report["items"]:
        out.write(f"#{item['seq']}  {item['partner']}  {item.get('doc_type') or '-'}  "
                  f"{item.get('correlation_id') or '-'}  {item['status']}\n")
        if item.get("error"):
            at = f" at {item['pointer'] or '/'}" if item.get("pointer") is not None else ""
            out.write(f"    ! {_short(item['error'])}{at}\n")
        diff = item.get("diff") or []
        if not diff and not item.get("error") and item["status"] != "skipped":
            out.write("    (no change against the parked document)\n")
        for change in diff:
            line = f"    {_OPS[change['op']]} {change['pointer'] or '/'}"
            if change["op"] == "changed":
                line += f": {_value(change['old'])} → {_value(change['new'])}"
            elif change["op"] == "added":
                line += f": {_value(change['new'])}"
            else:
                line += f": {_value(change['old'])}"
            out.write(line + "\n")
        if item.get("diff_truncated"):
            out.write("    … more changes not shown\n")
    if report.get("missing"):
        out.write(f"not found: {', '.join(str(s) for s in report['missing'])}\n")
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report["counts"].items()))
    out.write(f"{report['selected']} selected: {counts or 'nothing to do'}\n")
    failed = report["counts"].get("failed", 0) + report["counts"].get("skipped", 0)
    return 1 if failed and not dry_run else 0
