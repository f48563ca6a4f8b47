"""Locating a decoding error: msgspec's ``$.a[0].b`` paths as JSON pointers.

msgspec reports where validation failed as a JSONPath-like suffix of the message
(``Expected `int`, got `str` - at `$.lines[0].quantity```). Partners get an RFC 6901
JSON pointer (``/lines/0/quantity``) in problem+json, operators a dotted key path
(``gateway.partner.port``) in configuration errors. For "missing field" and
"unknown field" errors the pointer names the field itself, not its parent object.
"""

from __future__ import annotations

import re

import msgspec

__all__ = ("Located", "dotted", "locate")

_AT = re.compile(
    r"^(?P<message>.*?)(?: - at (?P<key>`key` in )?`(?P<path>\$[^`]*)`)?$", re.DOTALL
)
_FIELD = re.compile(r"(?:missing required|contains unknown) field `(?P<name>[^`]+)`")
_TOKEN = re.compile(r"\.(?P<attr>[A-Za-z_][A-Za-z0-9_-]*)|\[(?P<index>\d+|\.\.\.)\]")


class Located(msgspec.Struct, frozen=True):
    """A decoding error split into its message and the RFC 6901 pointer to the bad place."""

    message: str
    pointer: str


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def locate(error: msgspec.ValidationError | msgspec.DecodeError) -> Located:
    """Split a msgspec error into message and JSON pointer (``""`` is the whole document)."""
    text = str(error)
    match = _AT.match(text)
    assert match is not None  # the pattern matches any string
    message, path = match["message"], match["path"] or "$"
    if match["key"]:
        message = f"{message} (a key)"
    tokens: list[str] = []
    for part in _TOKEN.finditer(path[1:]):
        if part["attr"] is not None:
            tokens.append(part["attr"])
        else:
            # msgspec prints dict keys as [...]; the key itself is not recoverable.
            tokens.append("…" if part["index"] == "..." else part["index"])
    field = _FIELD.search(message)
    if field is not None:
        tokens.append(field["name"])
    pointer = "".join("/" + _escape(token) for token in tokens)
    return Located(message=message, pointer=pointer)


def dotted(pointer: str) -> str:
    """Render a JSON pointer as a dotted key path (``/gateway/port`` → ``gateway.port``)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    return ".".join(parts)
