"""Pacing Secret Manager calls under a budget per quota kind, so a run never exhausts the project.

Secret Manager's quotas are per project and shared with everything else in it: 600 reads (get,
list) and 600 writes (add, update, enable, disable, ...) per minute, 90,000 accesses; on top, about
2 writes per second to one secret. A fleet of due secrets handled concurrently would go through
the write quota in seconds. So every call passes through a :class:`Pacer` first:

- **One sliding 60 s window per budgeted kind** (``SECRET_MANAGER_READS_PER_MINUTE``,
  ``SECRET_MANAGER_WRITES_PER_MINUTE``): a log of the last *budget* send times. A call goes out
  only if fewer than *budget* calls went out in the 60 s before it, so no 60 s window ever holds
  more than the budget, exactly. A token bucket would either let up to twice the budget through
  in one window (a full bucket plus a minute of refill) or, sized to be safe, spread calls evenly
  and hold back a small run that the quota allows at once. The log costs one float per call in
  the window: a few KiB.
- **A sliding 1 s window of 2 writes per secret**: Secret Manager's per-secret limit.
- Accesses are counted by kind but not paced: their quota is 150 times the others'.

Every attempt counts, retries and the re-reads that confirm a lost compare-and-swap included,
because the pacer sits on the gRPC channel (:func:`grpc_interceptor`), not above the adapter.

A refresh reserves its two writes (the lease and the new version) *before* it takes the lease
(:meth:`Pacer.refresh_writes`): once Momento has spent the refresh token, storing the new key
must never wait for the budget.

The pacer is per function instance and shared by all its threads and requests. Instances do not
share it: deploy.sh runs one instance, and the default budgets leave half the project's quota to
other instances, manual runs and other workloads.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

from rotation.errors import ErrorCode, SecretStoreError

WINDOW_SECONDS = 60.0
# Secret Manager's soft limit on AddSecretVersion and UpdateSecret per secret (and its limit of
# about 1 enable/disable per version per second is implied: a run changes a version once).
SECRET_WRITES_PER_SECOND = 2
_SECRET_ID = re.compile(r"projects/[^/]+/secrets/([^/]+)")


class QuotaKind(StrEnum):
    ACCESS = "access"
    READ = "read"
    WRITE = "write"


# Each RPC's quota, as Secret Manager's "Quotas and limits" page groups them.
RPC_KINDS: dict[str, QuotaKind] = {
    "AccessSecretVersion": QuotaKind.ACCESS,
    "GetSecret": QuotaKind.READ,
    "GetSecretVersion": QuotaKind.READ,
    "ListSecrets": QuotaKind.READ,
    "ListSecretVersions": QuotaKind.READ,
    "AddSecretVersion": QuotaKind.WRITE,
    "UpdateSecret": QuotaKind.WRITE,
    "CreateSecret": QuotaKind.WRITE,
    "DeleteSecret": QuotaKind.WRITE,
    "EnableSecretVersion": QuotaKind.WRITE,
    "DisableSecretVersion": QuotaKind.WRITE,
    "DestroySecretVersion": QuotaKind.WRITE,
}
# The two writes of a refresh: the lease's compare-and-swap and the new version.
REFRESH_WRITES = ("UpdateSecret", "AddSecretVersion")


class PacingTimeoutError(SecretStoreError):
    """No slot in the budget within the time the caller could wait."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.SECRET_MANAGER_QUOTA)


class SlidingWindow:
    """At most ``limit`` sends in any ``window`` seconds. Not thread-safe: the Pacer locks.

    ``pending`` slots are reserved but not yet sent; they count as sent now until they are
    stamped with their real send time, or cancelled.
    """

    def __init__(self, limit: int, window: float, name: str) -> None:
        self.limit = limit
        self.window = window
        self.name = name  # what the budget is, for a message
        self._sent: deque[float] = deque()
        self.pending = 0

    def wait(self, now: float, slots: int = 1) -> float | None:
        """Seconds until ``slots`` more sends fit (0: now); None if only a pending send can free
        room (so the wait is unknown)."""
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        excess = len(self._sent) + self.pending + slots - self.limit
        if excess <= 0:
            return 0.0
        if excess > len(self._sent):
            return None
        return self._sent[excess - 1] + self.window - now

    def send(self, now: float, *, reserved: bool = False) -> None:
        if reserved:
            self.pending -= 1
        self._sent.append(now)

    def sent_in_window(self, now: float) -> int:
        self.wait(now, 0)
        return len(self._sent)


class _Reservation:
    """Writes of one refresh reserved in the budget: the RPCs not sent yet."""

    __slots__ = ("rpcs", "secret")

    def __init__(self, secret: str, rpcs: list[str]) -> None:
        self.secret = secret
        self.rpcs = rpcs


_reservation: ContextVar[_Reservation | None] = ContextVar("rotation_reservation", default=None)
_wait_limit: ContextVar[float | None] = ContextVar("rotation_wait_limit", default=None)


@contextlib.contextmanager
def wait_at_most(seconds: float) -> Iterator[None]:
    """Calls made inside wait at most ``seconds`` for the budget, else PacingTimeoutError."""
    token = _wait_limit.set(max(seconds, 0.0))
    try:
        yield
    finally:
        _wait_limit.reset(token)


class Pacer:
    """The budgets of one function instance, shared by all its threads."""

    def __init__(
        self,
        *,
        reads_per_minute: int,
        writes_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._windows = {
            QuotaKind.READ: SlidingWindow(
                reads_per_minute,
                WINDOW_SECONDS,
                f"the read budget (SECRET_MANAGER_READS_PER_MINUTE={reads_per_minute})",
            ),
            QuotaKind.WRITE: SlidingWindow(
                writes_per_minute,
                WINDOW_SECONDS,
                f"the write budget (SECRET_MANAGER_WRITES_PER_MINUTE={writes_per_minute})",
            ),
        }
        self._per_secret: dict[str, SlidingWindow] = {}
        self._clock = clock
        self._changed = threading.Condition()
        # Injected in tests with a fake clock; by default, a wait any release cuts short.
        self._sleep = sleep or self._changed.wait
        self.sent: Counter[QuotaKind] = Counter()

    def before_send(self, rpc: str, resource: str) -> None:
        """Block until ``rpc`` on ``resource`` (a secret or version name) fits every budget."""
        kind = RPC_KINDS.get(rpc, QuotaKind.READ)
        secret = _secret_of(resource)
        with self._changed:
            reservation = _reservation.get()
            if reservation is not None and reservation.secret == secret and rpc in reservation.rpcs:
                reservation.rpcs.remove(rpc)  # a retry of it waits like any other call
                self._send(kind, secret, reserved=True)
                return
            self._wait_for(self._windows_for(kind, secret), 1, rpc)
            self._send(kind, secret, reserved=False)

    @contextlib.contextmanager
    def refresh_writes(self, secret: str) -> Iterator[None]:
        """Reserve the two writes of a refresh of ``secret`` for the calls made inside."""
        rpcs = list(REFRESH_WRITES)
        key = _secret_of(secret) or secret
        with self._changed:
            windows = self._windows_for(QuotaKind.WRITE, key)
            self._wait_for(windows, len(rpcs), "a refresh")
            for window in windows:
                window.pending += len(rpcs)
        token = _reservation.set(_Reservation(key, rpcs))
        try:
            yield
        finally:
            _reservation.reset(token)
            with self._changed:
                for window in windows:
                    # before_send took the sent ones off the list: what is left is never sent.
                    window.pending -= len(rpcs)
                self._changed.notify_all()

    def sent_in_window(self, kind: QuotaKind) -> int:
        """Sends of ``kind`` in the last 60 s (reads and writes only)."""
        with self._changed:
            return self._windows[kind].sent_in_window(self._clock())

    def _windows_for(self, kind: QuotaKind, secret: str | None) -> list[SlidingWindow]:
        windows = [self._windows[kind]] if kind in self._windows else []
        if kind is QuotaKind.WRITE and secret is not None:
            per_secret = self._per_secret.get(secret)
            if per_secret is None:
                per_secret = SlidingWindow(
                    SECRET_WRITES_PER_SECOND,
                    1.0,
                    f"{SECRET_WRITES_PER_SECOND} writes/s to {secret}",
                )
                self._per_secret[secret] = per_secret
            windows.append(per_secret)
        return windows

    def _wait_for(self, windows: list[SlidingWindow], slots: int, what: str) -> None:
        """Wait, holding the lock between sleeps, until every window has ``slots`` free."""
        limit = _wait_limit.get()
        started = self._clock()
        for window in windows:
            if slots > window.limit:
                raise ValueError(f"{what} needs {slots} slots of a budget of {window.limit}")
        while True:
            now = self._clock()
            waits = [window.wait(now, slots) for window in windows]
            if all(wait == 0.0 for wait in waits):
                return
            # Unknown: a reserved send must happen (or be cancelled) first; look again soon.
            wait = max(0.05 if wait is None else wait for wait in waits)
            if limit is not None and now - started + wait > limit:
                busy = [w.name for w, v in zip(windows, waits, strict=True) if v != 0.0]
                raise PacingTimeoutError(
                    f"{what} could not be sent within {limit:.1f}s: {' and '.join(busy)} is in "
                    "use; run again later, or raise the budget if the project has room"
                )
            self._sleep(wait)

    def _send(self, kind: QuotaKind, secret: str | None, *, reserved: bool) -> None:
        now = self._clock()
        for window in self._windows_for(kind, secret):
            window.send(now, reserved=reserved)
        self.sent[kind] += 1


def _secret_of(resource: str) -> str | None:
    """The key of a secret's write window: its id. Secret Manager names the project by number in
    what it returns (the versions a sweep disables) and we by id in what we send (the lease, the
    add), so the full name would split one secret's writes over two windows. Secrets of the same
    id in two projects share a window, which only ever errs on the safe side."""
    match = _SECRET_ID.match(resource)
    return match.group(1) if match else None


def grpc_interceptor(pacer: Pacer) -> Any:
    """A gRPC client interceptor that paces every Secret Manager call through ``pacer``."""
    import grpc  # noqa: PLC0415  (only with the client, which imports it anyway)

    class _Pacing(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
        def intercept_unary_unary(
            self, continuation: Callable[[Any, Any], Any], details: Any, request: Any
        ) -> Any:
            pacer.before_send(str(details.method).rsplit("/", 1)[-1], _resource_of(request))
            return continuation(details, request)

    return _Pacing()


def _resource_of(request: Any) -> str:
    """The secret or version a Secret Manager request is about ("" if none)."""
    for attribute in ("name", "parent"):
        value = getattr(request, attribute, None)
        if isinstance(value, str) and value:
            return value
    secret = getattr(request, "secret", None)
    return str(getattr(secret, "name", "") or "")
