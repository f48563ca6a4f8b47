"""The expression grammar: a hand-written tokenizer and recursive-descent parser.

Parsing happens once, when a mapping is loaded; the result is a tree of
:mod:`~wharf.codecs.mapping.expr` nodes. There is no ``eval`` anywhere: the only things an
expression can do are the operators below and the functions in
:data:`~wharf.codecs.mapping.expr.FUNCTIONS`::

    expr   := concat
    concat := sum ("&" sum)*                  text concatenation
    sum    := term (("+" | "-") term)*        decimal arithmetic
    term   := unary (("*" | "/") unary)*
    unary  := "-" unary | atom
    atom   := NUMBER | STRING | PATH | `QUOTED NAME` | "(" expr ")"
            | NAME "(" [expr ("," expr)*] ")"                function call
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, TypeVar

from wharf.codecs.mapping.expr import (
    FUNCTIONS,
    Arith,
    Call,
    Concat,
    Const,
    Lookup,
    Negate,
    Node,
    Number,
    NumberFormat,
    Path,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ("Env", "ExpressionError", "parse_expression")


class ExpressionError(ValueError):
    """Raised when an expression does not parse; ``position`` is the offending character."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.position = position


@dataclass(frozen=True, slots=True)
class Env:
    """What the parser needs from the mapping: path compiler, code tables, number format."""

    resolve: Callable[[str, bool], object]
    """Compiles a source path's text (True: it was in backticks, a literal name);
    raises ValueError when it is not valid for the input."""
    tables: Mapping[str, Mapping[str, str]]
    numbers: NumberFormat


_OPS = "()+-*/&,"
_T = TypeVar("_T")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _OPS:
            tokens.append(("op", c, i))
            i += 1
        elif c in "\"'":
            j, out = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                    out.append({"n": "\n", "t": "\t"}.get(text[j], text[j]))
                else:
                    out.append(text[j])
                j += 1
            if j >= n:
                raise ExpressionError("unterminated string", i)
            tokens.append(("str", "".join(out), i))
            i = j + 1
        elif c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise ExpressionError("unterminated `name`", i)
            if j == i + 1:
                raise ExpressionError("empty `name`", i)
            tokens.append(("path", text[i + 1 : j], i))
            i = j + 1
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            tokens.append(("num", text[i:j], i))
            i = j
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_.[]"):
                j += 1
            tokens.append(("name", text[i:j], i))
            i = j
        else:
            raise ExpressionError(f"unexpected {c!r}", i)
    tokens.append(("end", "", n))
    return tokens


class _Parser:
    def __init__(self, text: str, env: Env) -> None:
        self.tokens = _tokenize(text)
        self.at = 0
        self.env = env

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.at]

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, value: str) -> None:
        kind, text, pos = self.take()
        if (kind, text) != ("op", value):
            raise ExpressionError(f"expected {value!r}, found {text or 'the end'!r}", pos)

    def parse(self) -> Node:
        node = self.concat()
        kind, text, pos = self.peek()
        if kind != "end":
            raise ExpressionError(f"unexpected {text!r}", pos)
        return node

    def concat(self) -> Node:
        parts = [self.sum()]
        while self.peek()[:2] == ("op", "&"):
            self.take()
            parts.append(self.sum())
        return parts[0] if len(parts) == 1 else Concat(parts)

    def sum(self) -> Node:
        node = self.term()
        while self.peek()[0] == "op" and self.peek()[1] in "+-":
            op = self.take()[1]
            node = Arith(op, node, self.term(), self.env.numbers)
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in "*/":
            op = self.take()[1]
            node = Arith(op, node, self.unary(), self.env.numbers)
        return node

    def unary(self) -> Node:
        if self.peek()[:2] == ("op", "-"):
            self.take()
            return Negate(self.unary(), self.env.numbers)
        return self.atom()

    def atom(self) -> Node:
        kind, text, pos = self.take()
        if kind == "num":
            try:
                return Const(Decimal(text))
            except InvalidOperation:
                raise ExpressionError(f"{text!r} is not a number", pos) from None
        if kind == "str":
            return Const(text)
        if kind == "op" and text == "(":
            node = self.concat()
            self.expect(")")
            return node
        if kind == "name" and self.peek()[:2] == ("op", "("):
            return self.call(text, pos)
        if kind in ("name", "path"):
            try:
                return Path(text, self.env.resolve(text, kind == "path"))
            except ValueError as exc:
                raise ExpressionError(str(exc), pos) from None
        raise ExpressionError(f"expected a value, found {text or 'the end'!r}", pos)

    def call(self, name: str, pos: int) -> Node:
        function = FUNCTIONS.get(name)
        if function is None:
            raise ExpressionError(f"unknown function {name!r} (known: {', '.join(FUNCTIONS)})", pos)
        self.expect("(")
        args: list[Node] = []
        if self.peek()[:2] != ("op", ")"):
            args.append(self.concat())
            while self.peek()[:2] == ("op", ","):
                self.take()
                args.append(self.concat())
        self.expect(")")
        low, high = function.arity
        if not low <= len(args) <= high:
            count = str(low) if low == high else f"{low} to {high}"
            raise ExpressionError(f"{name}() takes {count} arguments, got {len(args)}", pos)
        for index in function.literal_args:
            if index < len(args) and not isinstance(args[index], Const):
                raise ExpressionError(f"argument {index + 1} of {name}() must be a literal", pos)
        if name == "lookup":
            table_name = _literal_arg(args[0], str, name, pos)
            table = self.env.tables.get(table_name)
            if table is None:
                raise ExpressionError(f"no table {table_name!r} in [tables]", pos)
            return Lookup(table_name, table, args[1])
        if name == "number":
            return Number(args[0], self.env.numbers, None)
        if name == "round":
            places = _literal_arg(args[1], Decimal, name, pos)
            if places != places.to_integral_value() or not 0 <= places <= 12:
                raise ExpressionError("round() takes a whole number of places, 0 to 12", pos)
            return Number(args[0], self.env.numbers, int(places))
        for index in function.literal_args:
            if index < len(args):
                _literal_arg(args[index], str, name, pos)
        assert function.impl is not None
        return Call(name, function.impl, args)


def _literal_arg(node: Node, kind: type[_T], name: str, pos: int) -> _T:
    assert isinstance(node, Const)
    if not isinstance(node.value, kind):
        expected = "a string" if kind is str else "a number"
        raise ExpressionError(f"{name}(): expected {expected}, got {node.value!r}", pos)
    return node.value


def parse_expression(text: str, env: Env) -> Node:
    """Parse ``text`` into a node tree; raises :class:`ExpressionError`."""
    if not text.strip():
        raise ExpressionError("empty expression", 0)
    return _Parser(text, env).parse()
