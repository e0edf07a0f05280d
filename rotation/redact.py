"""Keep keys, refresh tokens and payloads out of every string that leaves the process.

Messages are built without secret values in the first place; this is the second line of defence
for text we do not control (a library's exception message that echoes its input). Each request
registers the values it handles in a context-local set, so concurrent requests on other threads
neither see nor clear each other's values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

REDACTED = "[REDACTED]"
_MIN_SECRET_LENGTH = 8  # shorter strings would redact ordinary words

_values: ContextVar[frozenset[str]] = ContextVar("rotation_secret_values", default=frozenset())


def register(values: Iterable[str]) -> None:
    """Remember ``values`` as secret for the rest of the current request."""
    fresh = {value for value in values if len(value) >= _MIN_SECRET_LENGTH}
    if fresh:
        _values.set(_values.get() | fresh)


@contextlib.contextmanager
def request_scope() -> Iterator[None]:
    """Forget the registered values when the request ends."""
    token = _values.set(frozenset())
    try:
        yield
    finally:
        _values.reset(token)


def scrub(text: str) -> str:
    """``text`` with every registered value replaced, longest first so parts don't leak."""
    for value in sorted(_values.get(), key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text
