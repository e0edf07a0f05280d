"""List filters: a small recursive-descent parser for the AIP-160 subset Secret Manager documents.

``AND``, ``OR``, ``NOT``/``-``, parentheses, and juxtaposition meaning AND; OR binds tighter than
AND (``a AND b OR c`` is ``a AND (b OR c)``). Which fields a list can filter on is up to its RPC
(secret_rpcs, version_rpcs); a filter the emulator does not understand is INVALID_ARGUMENT
instead of silently matching everything.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from devtools.emulators.secret_manager.errors import invalid

T = TypeVar("T")


class FilterError(ValueError):
    """A list filter the emulator cannot parse or does not support."""


@dataclass(frozen=True)
class Restriction:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class _Not:
    operand: _Expr


@dataclass(frozen=True)
class _And:
    operands: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Or:
    operands: tuple[_Expr, ...]


_Expr = Restriction | _Not | _And | _Or

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Longest operators first, so "<=" is not read as "<" followed by a value starting with "=".
_OPERATORS = ("<=", ">=", "!=", "<", ">", "=", ":")
_BARE_VALUE = re.compile(r"[^\s()]+")


class _FilterParser:
    """Grammar (AIP-160, trimmed to what Secret Manager filters use)::

    expression  = sequence { "AND" sequence }
    sequence    = factor { factor }              # juxtaposition means AND
    factor      = term { "OR" term }
    term        = [ "NOT" | "-" ] simple
    simple      = "(" expression ")" | restriction
    restriction = FIELD OPERATOR VALUE          # VALUE: bare word or quoted string
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def parse(self) -> _Expr | None:
        if not self._text.strip():
            return None
        expr = self._expression()
        self._skip_space()
        if self._pos != len(self._text):
            raise self._error("unexpected text")
        return expr

    def _expression(self) -> _Expr:
        sequences = [self._sequence()]
        while self._keyword("AND"):
            sequences.append(self._sequence())
        return sequences[0] if len(sequences) == 1 else _And(tuple(sequences))

    def _sequence(self) -> _Expr:
        factors = [self._factor()]
        while self._starts_term():
            factors.append(self._factor())
        return factors[0] if len(factors) == 1 else _And(tuple(factors))

    def _factor(self) -> _Expr:
        terms = [self._term()]
        while self._keyword("OR"):
            terms.append(self._term())
        return terms[0] if len(terms) == 1 else _Or(tuple(terms))

    def _term(self) -> _Expr:
        if self._keyword("NOT") or self._symbol("-"):
            return _Not(self._simple())
        return self._simple()

    def _simple(self) -> _Expr:
        if self._symbol("("):
            expr = self._expression()
            if not self._symbol(")"):
                raise self._error("expected ')'")
            return expr
        return self._restriction()

    def _restriction(self) -> Restriction:
        self._skip_space()
        name = _FIELD.match(self._text, self._pos)
        if name is None or name.group() in ("AND", "OR", "NOT"):
            raise self._error("expected a field name")
        self._pos = name.end()
        self._skip_space()
        op = next((o for o in _OPERATORS if self._text.startswith(o, self._pos)), None)
        if op is None:
            raise self._error(f"expected an operator after {name.group()!r}")
        self._pos += len(op)
        self._skip_space()
        return Restriction(name.group(), op, self._value())

    def _value(self) -> str:
        if self._pos < len(self._text) and self._text[self._pos] in "\"'":
            return self._quoted()
        bare = _BARE_VALUE.match(self._text, self._pos)
        if bare is None:
            raise self._error("expected a value")
        self._pos = bare.end()
        return bare.group()

    def _quoted(self) -> str:
        quote = self._text[self._pos]
        chars: list[str] = []
        pos = self._pos + 1
        while pos < len(self._text):
            char = self._text[pos]
            if char == "\\" and pos + 1 < len(self._text):
                chars.append(self._text[pos + 1])
                pos += 2
            elif char == quote:
                self._pos = pos + 1
                return "".join(chars)
            else:
                chars.append(char)
                pos += 1
        raise self._error("unterminated string")

    def _starts_term(self) -> bool:
        self._skip_space()
        if self._pos >= len(self._text) or self._text[self._pos] == ")":
            return False
        return not (self._peek_keyword("AND") or self._peek_keyword("OR"))

    def _peek_keyword(self, word: str) -> bool:
        # A keyword must stand alone: "ORDER:x" is a field, "OR (" and "NOT(" are keywords.
        if not self._text.startswith(word, self._pos):
            return False
        after = self._pos + len(word)
        return after < len(self._text) and (self._text[after].isspace() or self._text[after] == "(")

    def _keyword(self, word: str) -> bool:
        self._skip_space()
        if self._peek_keyword(word):
            self._pos += len(word)
            return True
        return False

    def _symbol(self, symbol: str) -> bool:
        self._skip_space()
        if self._text.startswith(symbol, self._pos):
            self._pos += len(symbol)
            return True
        return False

    def _skip_space(self) -> None:
        while self._pos < len(self._text) and self._text[self._pos].isspace():
            self._pos += 1

    def _error(self, reason: str) -> FilterError:
        return FilterError(f"invalid filter {self._text!r}: {reason} at offset {self._pos}")


def parse_filter(text: str) -> _Expr | None:
    """Parse a list filter; ``None`` for an empty one. Raises :class:`FilterError`."""
    return _FilterParser(text).parse()


def _compile(
    expr: _Expr, restriction: Callable[[Restriction], Callable[[T], bool]]
) -> Callable[[T], bool]:
    """Turn a parsed filter into a predicate. Restrictions are checked here, up front, so an
    unsupported filter fails even when there is nothing to list."""
    match expr:
        case Restriction():
            return restriction(expr)
        case _Not(operand):
            inner = _compile(operand, restriction)
            return lambda item: not inner(item)
        case _And(operands):
            parts = [_compile(o, restriction) for o in operands]
            return lambda item: all(part(item) for part in parts)
        case _Or(operands):
            parts = [_compile(o, restriction) for o in operands]
            return lambda item: any(part(item) for part in parts)


_COMPARISONS: dict[str, Callable[[datetime, datetime], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}


def time_restriction(
    restriction: Restriction, get_time: Callable[[T], datetime]
) -> Callable[[T], bool]:
    compare = _COMPARISONS.get(restriction.op)
    if compare is None:
        raise FilterError(f"operator {restriction.op!r} is not supported for {restriction.field}")
    try:
        bound = datetime.fromisoformat(restriction.value)
    except ValueError:
        raise FilterError(f"{restriction.value!r} is not an RFC 3339 timestamp") from None
    if bound.tzinfo is None:
        raise FilterError(f"timestamp {restriction.value!r} needs a time zone (e.g. Z)")
    return lambda item: compare(get_time(item), bound)


def predicate(
    text: str, restriction: Callable[[Restriction], Callable[[T], bool]]
) -> Callable[[T], bool]:
    """The predicate of list filter ``text`` (everything matches an empty one), each
    restriction made by ``restriction``; INVALID_ARGUMENT for a filter it cannot make."""
    try:
        expr = parse_filter(text)
        return (lambda _item: True) if expr is None else _compile(expr, restriction)
    except FilterError as exc:
        raise invalid(str(exc)) from None
