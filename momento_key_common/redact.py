"""Keep keys, refresh tokens and payloads out of every string that leaves the process.

Messages are built without secret values in the first place; this is the second line of defence
for text we do not control (a library's exception message that echoes its input). Each request
registers the values it handles in its own registry, held in a context variable, so concurrent
requests on other threads neither see nor clear each other's values. The worker threads of one
request run in copies of its context and so share its registry: a value one secret's worker
registers is scrubbed from the request's response too.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

REDACTED = "[REDACTED]"
_MIN_SECRET_LENGTH = 8  # shorter strings would redact ordinary words


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: frozenset[str] = frozenset()

    def add(self, fresh: set[str]) -> None:
        with self._lock:
            self.values |= fresh


_registry: ContextVar[_Registry | None] = ContextVar("rotation_secret_values", default=None)


def register(values: Iterable[str]) -> None:
    """Remember ``values`` as secret for the rest of the current request."""
    fresh = {value for value in values if len(value) >= _MIN_SECRET_LENGTH}
    if fresh:
        registry = _registry.get()
        if registry is None:  # outside any request scope: this context's own registry
            registry = _Registry()
            _registry.set(registry)
        registry.add(fresh)


@contextlib.contextmanager
def request_scope() -> Iterator[None]:
    """Forget the registered values when the request ends."""
    token = _registry.set(_Registry())
    try:
        yield
    finally:
        _registry.reset(token)


def scrub(text: str) -> str:
    """``text`` with every registered value replaced, longest first so parts don't leak."""
    registry = _registry.get()
    return without(text, registry.values if registry else ())


def without(text: str, values: Iterable[str]) -> str:
    """``text`` with each of ``values`` replaced, longest first so parts don't leak."""
    for value in sorted(values, key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, REDACTED)
    return text
