"""Finding a key path's line in a policy file, and the error that reports it.

``tomllib`` returns plain dicts with no positions, but the security team needs
``acme.toml:14: routes.ship_notice[0]: ...`` to find a mistake. :func:`key_lines` scans the
TOML text once (the file has already parsed, so the scanner can be lenient) and records the
line where every key, table header, ``[[array]]`` entry and array element is written; dotted
keys and inline tables count too. :meth:`KeyLines.line_of` answers for a path or, when the
path is not written in the file (a missing field, a value inherited from elsewhere), for its
nearest written ancestor.

Key paths are tuples of table keys (``str``) and array indices (``int``); they render as
``certificates[1].fingerprint`` (see :func:`render_path`).
"""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING

from wharf.errors import PolicyError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ("KeyLines", "KeyPath", "PolicyFileError", "key_lines", "render_path")

KeyPath = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def render_path(path: Sequence[str | int]) -> str:
    """``("routes", "ship_notice", 0)`` → ``routes.ship_notice[0]``; odd keys are quoted."""
    out = ""
    for token in path:
        if isinstance(token, int):
            out += f"[{token}]"
            continue
        key = token if _BARE_KEY.match(token) else '"' + token.replace('"', '\\"') + '"'
        out += f".{key}" if out else key
    return out


class PolicyFileError(PolicyError):
    """A policy error located in a file: ``file:line: key.path: message``.

    ``file`` stays the plain file name (as :class:`PolicyError` promises), ``line`` is the
    1-based line (``None`` when the file itself is the problem) and ``path`` the rendered key
    path. Loading a directory reports every error it found: the first one is raised, the
    others ride along in :attr:`errors`, and ``str()`` shows them all, one per line.
    """

    def __init__(
        self, message: str, *, file: str, line: int | None = None, path: str | None = None
    ) -> None:
        super().__init__(message, file=file, path=path)
        self.line = line
        self.others: tuple[PolicyError, ...] = ()
        self.args = (self.render(),)

    @property
    def location(self) -> str:
        """``file:line`` (or just ``file``)."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def render(self) -> str:
        """This error alone, as ``file:line: key.path: message``."""
        where = f"{self.location}: {self.path}: " if self.path else f"{self.location}: "
        return where + self.detail

    @property
    def errors(self) -> tuple[PolicyError, ...]:
        """This error and every other one found in the same load."""
        return (self, *self.others)

    @classmethod
    def gather(cls, errors: Sequence[PolicyError]) -> PolicyError:
        """One raisable error for several: the first, carrying the others."""
        first = errors[0]
        if len(errors) == 1:
            return first
        if not isinstance(first, PolicyFileError):
            first = cls(first.detail, file=first.file, path=first.path)
        first.others = tuple(errors[1:])
        first.args = ("\n".join(_one_line(e) for e in first.errors),)
        return first


def _one_line(error: PolicyError) -> str:
    return error.render() if isinstance(error, PolicyFileError) else str(error)


class KeyLines:
    """Where each key path of one TOML text is written (1-based lines)."""

    def __init__(self, lines: dict[KeyPath, int]) -> None:
        self._lines = lines

    def __contains__(self, path: KeyPath) -> bool:
        return path in self._lines

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its nearest ancestor written in the file."""
        key = tuple(path)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key[:-1]
        return None

    def written(self) -> Iterable[KeyPath]:
        return self._lines.keys()


def key_lines(text: str) -> KeyLines:
    """Scan a (valid) TOML text and record the line of every key path written in it."""
    scanner = _Scanner(text)
    scanner.document()
    return KeyLines(scanner.lines)


class _Scanner:
    """A lenient TOML walker that only tracks positions; tomllib has already checked syntax."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        self._breaks = [i for i, ch in enumerate(text) if ch == "\n"]
        self._aot: dict[KeyPath, int] = {}  # array-of-tables path -> entries so far

    # -- positions ---------------------------------------------------------------------------

    def line(self, pos: int | None = None) -> int:
        return bisect.bisect_left(self._breaks, self.pos if pos is None else pos) + 1

    def record(self, path: KeyPath, line: int) -> None:
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], line)

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def skip_blank(self, *, newlines: bool) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.pos += 1
            elif ch == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    # -- structure ---------------------------------------------------------------------------

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.peek(2) == "[[":
                table = self.array_header()
            elif self.peek() == "[":
                table = self.table_header()
            else:
                self.key_value(table)

    def resolve(self, keys: Sequence[str]) -> KeyPath:
        """Key names → a path with the current index of every array of tables on the way."""
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            if path in self._aot:
                path = (*path, self._aot[path] - 1)
        return path

    def array_header(self) -> KeyPath:
        line = self.line()
        self.pos += 2
        keys = self.keys()
        self.pos = self.text.index("]]", self.pos) + 2
        parent = self.resolve(keys[:-1])
        array = (*parent, keys[-1])
        index = self._aot.get(array, 0)
        self._aot[array] = index + 1
        self.record((*array, index), line)
        return (*array, index)

    def table_header(self) -> KeyPath:
        line = self.line()
        self.pos += 1
        keys = self.keys()
        self.pos = self.text.index("]", self.pos) + 1
        path = self.resolve(keys)
        self.record(path, line)
        return path

    def key_value(self, table: KeyPath) -> None:
        line = self.line()
        keys = self.keys()
        self.skip_blank(newlines=False)
        self.pos += 1  # "="
        path = (*table, *keys)
        self.record(path, line)
        self.value(path)

    def keys(self) -> list[str]:
        keys: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            keys.append(self.simple_key())
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return keys
            self.pos += 1

    def simple_key(self) -> str:
        ch = self.peek()
        if ch == '"':
            return self.basic_string()
        if ch == "'":
            end = self.text.index("'", self.pos + 1)
            key, self.pos = self.text[self.pos + 1 : end], end + 1
            return key
        match = _BARE.match(self.text, self.pos)
        if match is None:  # not valid TOML; tomllib would have refused it
            raise ValueError(f"unexpected {ch!r} at line {self.line()}")
        self.pos = match.end()
        return match.group()

    # -- values ------------------------------------------------------------------------------

    def value(self, path: KeyPath) -> None:
        self.skip_blank(newlines=False)
        ch = self.peek()
        if self.peek(3) in ('"""', "'''"):
            self.multiline_string(self.peek(3))
        elif ch == '"':
            self.basic_string()
        elif ch == "'":
            self.pos = self.text.index("'", self.pos + 1) + 1
        elif ch == "[":
            self.array(path)
        elif ch == "{":
            self.inline_table(path)
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in ",]}\n#":
                self.pos += 1

    def array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "]":
                self.pos += 1
                return
            if self.peek() == ",":
                self.pos += 1
                continue
            self.record((*path, index), self.line())
            self.value((*path, index))
            index += 1

    def inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "}":
                self.pos += 1
                return
            if self.peek() == ",":
                self.pos += 1
                continue
            self.key_value(path)

    def basic_string(self) -> str:
        start = self.pos + 1
        self.pos = start
        while self.text[self.pos] != '"':
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        self.pos += 1
        # Keys with escapes are rare in policy files; an unescaped key is good enough to match.
        return self.text[start : self.pos - 1].replace('\\"', '"').replace("\\\\", "\\")

    def multiline_string(self, quote: str) -> None:
        self.pos += 3
        while not self.text.startswith(quote, self.pos):
            self.pos += 2 if quote == '"""' and self.text[self.pos] == "\\" else 1
        self.pos += 3
        # Up to two quotes right before the closing delimiter belong to the string.
        for _ in range(2):
            if self.peek() == quote[0]:
                self.pos += 1
