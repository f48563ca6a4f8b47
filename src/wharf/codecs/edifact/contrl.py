"""CONTRL: the syntax and service report, generated for every inbound interchange and read back.

Why this module exists: the sender of an interchange learns from CONTRL what became of it. Wharf
answers every inbound interchange (except one that holds only CONTRL messages: acknowledgments
are not acknowledged) with one CONTRL message per interchange:

* ``UCI`` names the interchange (0020, sender, recipient) with action 7 (acknowledged; lower
  levels acknowledged unless rejected below) or 4 (rejected: the UNB was unusable, or no message
  in it could be taken). An interchange-level problem is carried in UCI 0085/0013/S011 even with
  action 7 (stray segments between messages, code 33), as common translators do.
* ``UCF`` answers a UNG group, when the interchange has groups.
* ``UCM`` answers every message: 7 accepted, 4 rejected. An error in UNH/UNT is reported on the
  UCM itself; an error inside the message as ``UCS`` (segment position, UNH = 1) and ``UCD``
  (0085 code and S011: element position counted with the segment tag as 1).

Reading an inbound CONTRL gives a :class:`~wharf.codecs.base.FunctionalAck`: the acknowledged
interchange reference, whether UCI accepted it (7 or 8), the UCM action per message reference and
readable error lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wharf.codecs.base import FunctionalAck
from wharf.codecs.edifact.values import fault

if TYPE_CHECKING:
    from wharf.codecs.edifact.envelope import Group, Interchange, Message
    from wharf.codecs.edifact.values import Fields
    from wharf.codecs.edifact.writer import SegmentWriter
    from wharf.errors import DocumentError

__all__ = ("SYNTAX_ERRORS", "Outcome", "read_contrl", "write_contrl")

SYNTAX_ERRORS: dict[str, str] = {
    "2": "syntax version or level not supported",
    "7": "interchange recipient not actual recipient",
    "12": "invalid value",
    "13": "missing",
    "14": "value not supported in this position",
    "15": "not supported in this position",
    "16": "too many constituents",
    "17": "no agreement",
    "18": "unspecified error",
    "19": "invalid decimal notation",
    "20": "character invalid as service character",
    "21": "invalid character(s)",
    "22": "invalid service character(s)",
    "23": "unknown interchange sender",
    "24": "too old",
    "25": "test indicator not supported",
    "26": "duplicate detected",
    "28": "references do not match",
    "29": "control count does not match number of instances received",
    "30": "functional groups and messages mixed",
    "32": "lower level empty",
    "33": "invalid occurrence outside message, package or group",
    "35": "too many repetitions",
    "37": "invalid type of character(s)",
    "38": "missing digit in front of decimal sign",
    "39": "data element too long",
    "40": "data element too short",
    "45": "trailing separator",
}

Outcome = tuple["Message", "DocumentError | None"]
"""A message and the error that rejected it (None: accepted)."""


def _code(error: DocumentError) -> str:
    return error.code if error.code in SYNTAX_ERRORS else "18"


def _error_elements(error: DocumentError) -> tuple[str, str | None, str | None]:
    """0085, 0013 (service segment tag) and S011 (position, tag = 1) for a UCI/UCF/UCM."""
    tag = error.segment_id if error.segment_id and error.segment_id.startswith("UN") else None
    position = str(error.element + 1) if error.element is not None and tag else None
    return _code(error), tag, position


def _message_response(w: SegmentWriter, message: Message, error: DocumentError | None) -> None:
    s009 = (message.type, message.version, message.release, message.agency, message.association)
    if error is None:
        w.add("UCM", message.ref, s009, "7")
        return
    if error.segment_id in ("UNH", "UNT") or error.segment is None:
        w.add("UCM", message.ref, s009, "4", *_error_elements(error))
        return
    w.add("UCM", message.ref, s009, "4")
    if error.element is None:
        w.add("UCS", str(error.segment), _code(error))
    else:
        w.add("UCS", str(error.segment))
        w.add("UCD", _code(error), str(error.element + 1))


def write_contrl(
    w: SegmentWriter,
    ic: Interchange,
    outcomes: list[Outcome],
    ref: str,
) -> bool:
    """Append one CONTRL message for ``ic``; returns whether UCI accepted the interchange."""
    start = len(w.segments)
    version = ("CONTRL", "4", "1", "UN") if ic.syntax_version >= "4" else ("CONTRL", "D", "3", "UN")
    w.add("UNH", ref, version)
    accepted = ic.fault is None and any(error is None for _, error in outcomes)
    problem = ic.fault or (ic.notices[0] if ic.notices else None)
    uci: list[str | list[str] | None] = [ic.ref, ic.sender, ic.recipient, "7" if accepted else "4"]
    if problem is not None:
        uci.extend(_error_elements(problem))
    elif not outcomes:
        uci.append("32")
    w.add("UCI", *uci)
    if ic.fault is None:
        groups: dict[int, Group] = {}
        loose: list[Outcome] = []
        by_group: dict[int, list[Outcome]] = {}
        for outcome in outcomes:
            group = outcome[0].group
            if group is None:
                loose.append(outcome)
            else:
                groups[id(group)] = group
                by_group.setdefault(id(group), []).append(outcome)
        for message, error in loose:
            _message_response(w, message, error)
        for key, group in groups.items():
            members = by_group[key]
            ok = group.fault is None and any(error is None for _, error in members)
            ucf: list[str | list[str] | None] = [
                group.ref,
                group.sender,
                group.recipient,
                "7" if ok else "4",
            ]
            if group.fault is not None:
                ucf.extend(_error_elements(group.fault))
            w.add("UCF", *ucf)
            if group.fault is None:
                for message, error in members:
                    _message_response(w, message, error)
    w.add("UNT", str(len(w.segments) - start + 1), ref)
    return accepted


def read_contrl(message: Message, f: Fields) -> FunctionalAck:
    """An inbound CONTRL as a FunctionalAck; a CONTRL without UCI is a pointed error."""
    uci = next(((s, p) for p, s in enumerate(message.segments, 1) if s[0] == "UCI"), None)
    if uci is None:
        raise fault("a CONTRL message needs a UCI segment", position=2, tag="UCI", code="13")
    seg, position = uci
    reference = f.text(seg, 1)
    if not reference:
        raise fault(
            "UCI names no interchange reference (0020)",
            position=position,
            tag="UCI",
            element=1,
            code="13",
        )
    action = f.text(seg, 4)
    errors: list[str] = []
    transactions: dict[str, str] = {}
    scope, segment = f"interchange {reference}", ""
    for seg in message.segments:
        tag = seg[0]
        if tag in ("UCI", "UCF", "UCM"):
            if tag == "UCF":
                scope = f"group {f.text(seg, 1)}"
            elif tag == "UCM":
                scope = f"message {f.text(seg, 1)}"
                transactions[f.text(seg, 1)] = f.text(seg, 3)
            segment = ""
            at = 4 if tag == "UCM" else 5
            code = f.text(seg, at)
            if code:
                where = " ".join(filter(None, (f.text(seg, at + 1), f.text(seg, at + 2, 0))))
                errors.append(_describe(scope, code, where))
        elif tag == "UCS":
            segment = f" segment {f.text(seg, 1)}"
            if f.text(seg, 2):
                errors.append(_describe(scope + segment, f.text(seg, 2), ""))
        elif tag == "UCD":
            errors.append(
                _describe(scope + segment, f.text(seg, 1), f"element {f.text(seg, 2, 0)}")
            )
    return FunctionalAck(
        format="edifact",
        acknowledged_control=reference,
        accepted=action in ("7", "8"),
        transactions=transactions,
        errors=errors,
    )


def _describe(where: str, code: str, at: str) -> str:
    text = SYNTAX_ERRORS.get(code, "error")
    return f"{where}{' ' + at if at else ''}: {code} {text}"
