"""Expressions in mapping rules: the values they handle and the nodes they are made of.

A supplier's value rarely fits the canonical field as is: a date in ``03/10/2025``, a part
number split over two columns, a price per dozen. A rule's ``expr`` covers those cases with a
deliberately tiny language (:mod:`~wharf.codecs.mapping.grammar` parses it once, when the mapping
is loaded, so a typo is a load-time error) whose nodes are evaluated here, per record.

``PATH`` is a source path: a CSV column name, or a JSON path such as ``items[].qty``; names
with spaces or other punctuation go in backticks (`` `Part No.` ``). Functions: ``upper lower
trim concat coalesce date datetime number round replace lookup`` (see :data:`FUNCTIONS`).

A missing value (absent, null or empty) flows through: ``upper(x)`` of a missing ``x`` is
missing, ``&`` treats it as empty text, arithmetic with it is missing, ``coalesce`` skips it.
A value that cannot be used (``"abc" * 2``, a date that does not fit its format) raises
:class:`Problem` naming the sub-expression, so the error points at the supplier's field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol

__all__ = (
    "FUNCTIONS",
    "Const",
    "Lookup",
    "Node",
    "Number",
    "NumberFormat",
    "Path",
    "Problem",
    "Scope",
    "is_missing",
    "to_date",
    "to_datetime",
    "to_text",
)


class Problem(Exception):
    """Raised while evaluating: a value cannot be used; ``node`` is the part to blame."""

    def __init__(self, message: str, node: Node | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


class Scope(Protocol):
    """Where source paths are read: one JSON document position or one CSV row."""

    def read(self, ref: object) -> object: ...

    def pointer(self, ref: object) -> str: ...


def is_missing(value: object) -> bool:
    return value is None or value == ""


def _bounded(number: Decimal, value: object, node: Node | None) -> Decimal:
    """No supplier quantity or amount is beyond 10**18, nor finer than 10**-18: refuse them
    before arithmetic on them costs seconds (``int(Decimal("1e999999"))``) or overflows."""
    if number and not -18 <= number.adjusted() <= 18:
        raise Problem(f"{value!r} is out of range for a quantity or amount", node)
    return number


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """How the supplier writes numbers: decimal comma, thousands separator."""

    decimal_comma: bool = False
    thousands: str = ""

    def parse(self, value: object, node: Node | None = None) -> Decimal | None:
        if is_missing(value):
            return None
        if isinstance(value, Decimal):
            return _bounded(value, value, node)
        if isinstance(value, int) and not isinstance(value, bool):
            return _bounded(Decimal(value), value, node)
        if not isinstance(value, str):
            raise Problem(f"expected a number, got {_describe(value)}", node)
        text = value.strip()
        if self.thousands:
            text = text.replace(self.thousands, "")
        if self.decimal_comma:
            text = text.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise Problem(f"{value!r} is not a number", node) from None
        if not number.is_finite():
            raise Problem(f"{value!r} is not a finite number", node)
        return _bounded(number, value, node)

    def format(self, number: Decimal) -> str:
        text = str(number)
        return text.replace(".", ",") if self.decimal_comma else text


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    return repr(value)


def to_text(value: object, node: Node | None = None) -> str | None:
    """A value as text (numbers as written, dates in ISO 8601); missing stays None."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f") if -30 < value.adjusted() < 30 else str(value)
    if isinstance(value, int | dt.date):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    raise Problem(f"expected a value, got {_describe(value)}", node)


def to_date(value: object, fmt: str | None, node: Node | None = None) -> dt.date | None:
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = to_text(value, node)
    assert text is not None
    try:
        if fmt is None:
            return dt.date.fromisoformat(text.strip())
        return dt.datetime.strptime(text.strip(), fmt).date()
    except ValueError:
        raise Problem(f"{text!r} is not a date in the format {fmt or 'YYYY-MM-DD'}", node) from None


def to_datetime(value: object, fmt: str | None, node: Node | None = None) -> dt.datetime | None:
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    text = to_text(value, node)
    assert text is not None
    try:
        if fmt is None:
            return dt.datetime.fromisoformat(text.strip())
        return dt.datetime.strptime(text.strip(), fmt)
    except ValueError:
        expected = fmt or "ISO 8601, e.g. 2025-03-10T16:30:00Z"
        raise Problem(f"{text!r} is not a timestamp in the format {expected}", node) from None


# --- nodes ----------------------------------------------------------------------------------


class Node:
    """A parsed expression; ``eval`` reads source values from a scope."""

    __slots__ = ()

    def eval(self, scope: Scope) -> object:  # pragma: no cover - every node overrides
        raise NotImplementedError

    def paths(self) -> Iterator[Path]:
        """The source paths this expression reads, in order."""
        return iter(())


class Const(Node):
    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def eval(self, scope: Scope) -> object:
        return self.value


class Path(Node):
    """A source path; ``ref`` is the format's compiled form of ``text``."""

    __slots__ = ("ref", "text")

    def __init__(self, text: str, ref: object) -> None:
        self.text = text
        self.ref = ref

    def eval(self, scope: Scope) -> object:
        return scope.read(self.ref)

    def paths(self) -> Iterator[Path]:
        yield self


class Call(Node):
    __slots__ = ("args", "impl", "name")

    def __init__(self, name: str, impl: _Impl, args: list[Node]) -> None:
        self.name = name
        self.impl = impl
        self.args = args

    def eval(self, scope: Scope) -> object:
        return self.impl(self, scope)

    def paths(self) -> Iterator[Path]:
        for arg in self.args:
            yield from arg.paths()


class Lookup(Node):
    """A code looked up in a table; an unknown code is a Problem unless there is a fallback."""

    __slots__ = ("arg", "fallback", "name", "table")

    def __init__(
        self, name: str, table: Mapping[str, str], arg: Node, fallback: object = None
    ) -> None:
        self.name = name
        self.table = table
        self.arg = arg
        self.fallback = fallback

    def eval(self, scope: Scope) -> object:
        code = to_text(self.arg.eval(scope), self.arg)
        if code is None:
            return None
        found = self.table.get(code)
        if found is None:
            found = self.table.get(code.strip())
        if found is not None:
            return found
        if self.fallback is not None:
            return self.fallback
        known = ", ".join(list(self.table)[:12])
        raise Problem(f"code {code!r} is not in table {self.name!r} (known: {known})", self.arg)

    def paths(self) -> Iterator[Path]:
        return self.arg.paths()


class Arith(Node):
    __slots__ = ("left", "numbers", "op", "right")

    def __init__(self, op: str, left: Node, right: Node, numbers: NumberFormat) -> None:
        self.op = op
        self.left = left
        self.right = right
        self.numbers = numbers

    def eval(self, scope: Scope) -> object:
        a = self.numbers.parse(self.left.eval(scope), self.left)
        b = self.numbers.parse(self.right.eval(scope), self.right)
        if a is None or b is None:
            return None
        if self.op == "+":
            return a + b
        if self.op == "-":
            return a - b
        if self.op == "*":
            return a * b
        if b == 0:
            raise Problem("division by zero", self.right)
        return a / b

    def paths(self) -> Iterator[Path]:
        yield from self.left.paths()
        yield from self.right.paths()


class Negate(Node):
    __slots__ = ("arg", "numbers")

    def __init__(self, arg: Node, numbers: NumberFormat) -> None:
        self.arg = arg
        self.numbers = numbers

    def eval(self, scope: Scope) -> object:
        number = self.numbers.parse(self.arg.eval(scope), self.arg)
        return None if number is None else -number

    def paths(self) -> Iterator[Path]:
        return self.arg.paths()


class Concat(Node):
    __slots__ = ("parts",)

    def __init__(self, parts: list[Node]) -> None:
        self.parts = parts

    def eval(self, scope: Scope) -> object:
        text = "".join(to_text(part.eval(scope), part) or "" for part in self.parts)
        return text or None

    def paths(self) -> Iterator[Path]:
        for part in self.parts:
            yield from part.paths()


# --- functions ------------------------------------------------------------------------------

_Impl = Callable[[Call, Scope], object]


def _text_arg(call: Call, scope: Scope, index: int) -> str | None:
    node = call.args[index]
    return to_text(node.eval(scope), node)


def _literal(call: Call, index: int) -> object:
    node = call.args[index]
    assert isinstance(node, Const)
    return node.value


def _upper(call: Call, scope: Scope) -> object:
    text = _text_arg(call, scope, 0)
    return None if text is None else text.upper()


def _lower(call: Call, scope: Scope) -> object:
    text = _text_arg(call, scope, 0)
    return None if text is None else text.lower()


def _trim(call: Call, scope: Scope) -> object:
    text = _text_arg(call, scope, 0)
    return None if text is None else text.strip() or None


def _concat(call: Call, scope: Scope) -> object:
    return "".join(_text_arg(call, scope, i) or "" for i in range(len(call.args))) or None


def _coalesce(call: Call, scope: Scope) -> object:
    for arg in call.args:
        value = arg.eval(scope)
        if not is_missing(value):
            return value
    return None


def _format_arg(call: Call) -> str | None:
    if len(call.args) < 2:
        return None
    fmt = _literal(call, 1)
    assert isinstance(fmt, str)
    return fmt


def _date(call: Call, scope: Scope) -> object:
    return to_date(call.args[0].eval(scope), _format_arg(call), call.args[0])


def _datetime(call: Call, scope: Scope) -> object:
    return to_datetime(call.args[0].eval(scope), _format_arg(call), call.args[0])


def _replace(call: Call, scope: Scope) -> object:
    text = _text_arg(call, scope, 0)
    old, new = _literal(call, 1), _literal(call, 2)
    assert isinstance(old, str) and isinstance(new, str)
    return None if text is None else text.replace(old, new) or None


@dataclass(frozen=True, slots=True)
class _Function:
    impl: _Impl | None
    """None for the functions the parser builds as nodes of their own (they need the Env)."""
    arity: tuple[int, int]
    literal_args: tuple[int, ...] = ()
    """Positions that must be literals (formats, table names), checked when parsing."""


FUNCTIONS: Mapping[str, _Function] = {
    "upper": _Function(_upper, (1, 1)),
    "lower": _Function(_lower, (1, 1)),
    "trim": _Function(_trim, (1, 1)),
    "concat": _Function(_concat, (1, 32)),
    "coalesce": _Function(_coalesce, (1, 32)),
    "date": _Function(_date, (1, 2), literal_args=(1,)),
    "datetime": _Function(_datetime, (1, 2), literal_args=(1,)),
    "replace": _Function(_replace, (3, 3), literal_args=(1, 2)),
    # number, round and lookup need the environment; the parser builds them itself.
    "number": _Function(None, (1, 1)),
    "round": _Function(None, (2, 2), literal_args=(1,)),
    "lookup": _Function(None, (2, 2), literal_args=(0,)),
}
"""Function name → implementation and arity (min, max)."""


class Number(Node):
    """``number(x)`` and ``round(x, places)``: a value read as a decimal."""

    __slots__ = ("arg", "numbers", "places")

    def __init__(self, arg: Node, numbers: NumberFormat, places: int | None) -> None:
        self.arg = arg
        self.numbers = numbers
        self.places = places

    def eval(self, scope: Scope) -> object:
        number = self.numbers.parse(self.arg.eval(scope), self.arg)
        if number is None or self.places is None:
            return number
        try:
            return number.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise Problem(f"cannot round {number} to {self.places} places", self.arg) from None

    def paths(self) -> Iterator[Path]:
        return self.arg.paths()


# --- parser ---------------------------------------------------------------------------------
