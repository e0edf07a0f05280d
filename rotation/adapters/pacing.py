"""Pacing Secret Manager calls under a budget per quota kind, so a run never exhausts the project.

Secret Manager's quotas are per project and shared with everything else in it: 600 reads (get,
list) and 600 writes (add, update, enable, disable, ...) per minute, 90,000 accesses. On top come
limits by a narrower scope ("Quotas and limits"): AddSecretVersion and UpdateSecret about 2 per
second per secret, and Enable/Disable/DestroySecretVersion 1 per second per *version*. A fleet of
due secrets handled concurrently would go through the write quota in seconds. So every call
passes through a :class:`Pacer` first:

- **One sliding 60 s window per budgeted kind** (``SECRET_MANAGER_READS_PER_MINUTE``,
  ``SECRET_MANAGER_WRITES_PER_MINUTE``): a log of the last *budget* send times. A call goes out
  only if fewer than *budget* calls went out in the 60 s before it, so no 60 s window ever holds
  more than the budget, exactly. A token bucket would either let up to twice the budget through
  in one window (a full bucket plus a minute of refill) or, sized to be safe, spread calls evenly
  and hold back a small run that the quota allows at once. The log costs one float per call in
  the window: a few KiB.
- **A sliding 1 s window of 2 adds and updates per secret**, and **of 1 state change per
  version**: each limit by its own scope. A sweep that disables a hundred versions of one secret
  is bound by the project's budget, not by the per-secret limit (which made sweeps five times
  slower than the budget allowed).
- **Housekeeping is spread out** (:func:`housekeeping`): the sweep's disables go out at most one
  per ``60 / budget`` seconds across the instance, never take the last two slots of the window,
  and wait while a refresh waits, so a refresh (which needs two) is never starved by a sweep
  of a backlog. A sweep of a backlog then runs at the budget's rate, which is what it may use,
  and no faster.
- Accesses are not paced: their quota is 150 times the others'.
- A call that waits for the budget says so in the log about every 10 s, so a slow run is
  explained while it is slow.

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
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

from momento_key_common import names
from momento_key_common.errors import ErrorCode, SecretStoreError
from rotation.adapters import logs

WINDOW_SECONDS = 60.0
# Secret Manager's soft limits on global secrets ("Quotas and limits"): AddSecretVersion and
# UpdateSecret per secret, and Enable/Disable/DestroySecretVersion per version.
SECRET_WRITES_PER_SECOND = 2
VERSION_CHANGES_PER_SECOND = 1
# Regional secrets have their own, much higher limits, per secret (or version) per region.
REGIONAL_SECRET_WRITES_PER_SECOND = 80
REGIONAL_VERSION_CHANGES_PER_SECOND = 50
PER_SECRET_RPCS = frozenset({"AddSecretVersion", "UpdateSecret"})
PER_VERSION_RPCS = frozenset(
    {"EnableSecretVersion", "DisableSecretVersion", "DestroySecretVersion"}
)
# Slots of the write window housekeeping leaves free: the two writes of a refresh.
HOUSEKEEPING_RESERVE = 2
# How often a call that waits for the budget logs that it still waits.
WAIT_LOG_SECONDS = 10.0


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
# The two writes of a refresh: the lease's compare-and-swap and the new version
# (rotation.rules.policy.WRITES_PER_REFRESH counts them for the budget warning).
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

    def __init__(self, secret: _Scope, rpcs: list[str]) -> None:
        self.secret = secret
        self.rpcs = rpcs


_reservation: ContextVar[_Reservation | None] = ContextVar("rotation_reservation", default=None)
_wait_limit: ContextVar[float | None] = ContextVar("rotation_wait_limit", default=None)
_housekeeping: ContextVar[bool] = ContextVar("rotation_housekeeping", default=False)


@contextlib.contextmanager
def housekeeping() -> Iterator[None]:
    """Writes made inside are housekeeping: spread out, and never in the refreshes' reserve."""
    token = _housekeeping.set(True)
    try:
        yield
    finally:
        _housekeeping.reset(token)


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
        self._per_version: dict[str, SlidingWindow] = {}
        # Housekeeping writes go out at most one per this many seconds, instance-wide.
        self._housekeeping_spacing = WINDOW_SECONDS / writes_per_minute
        self._housekeeping_next = 0.0
        # Refreshes waiting for their two writes: housekeeping yields to them.
        self._refreshes_waiting = 0
        self._clock = clock
        self._changed = threading.Condition()
        # Injected in tests with a fake clock; by default, a wait any release cuts short.
        self._sleep = sleep or self._changed.wait

    def before_send(self, rpc: str, resource: str) -> None:
        """Block until ``rpc`` on ``resource`` (a secret or version name) fits every budget."""
        kind = RPC_KINDS.get(rpc, QuotaKind.READ)
        scope = _scope_of(rpc, resource)
        with self._changed:
            reservation = _reservation.get()
            if reservation is not None and reservation.secret == scope and rpc in reservation.rpcs:
                reservation.rpcs.remove(rpc)  # a retry of it waits like any other call
                self._send(kind, scope, reserved=True)
                return
            windows = self._windows_for(kind, scope)
            if kind is QuotaKind.WRITE and _housekeeping.get():
                self._wait_for_housekeeping(windows, rpc)
            else:
                self._wait_for(windows, 1, rpc)
            self._send(kind, scope, reserved=False)

    @contextlib.contextmanager
    def refresh_writes(self, secret: str) -> Iterator[None]:
        """Reserve the two writes of a refresh of ``secret`` for the calls made inside."""
        rpcs = list(REFRESH_WRITES)
        scope = _secret_scope(secret)
        with self._changed:
            windows = self._windows_for(QuotaKind.WRITE, scope)
            self._refreshes_waiting += 1
            try:
                self._wait_for(windows, len(rpcs), "a refresh")
            finally:
                self._refreshes_waiting -= 1
            for window in windows:
                window.pending += len(rpcs)
        token = _reservation.set(_Reservation(scope, rpcs))
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

    def _windows_for(self, kind: QuotaKind, scope: _Scope | None) -> list[SlidingWindow]:
        windows = [self._windows[kind]] if kind in self._windows else []
        if kind is not QuotaKind.WRITE or scope is None:
            return windows
        key, per_version, regional = scope
        if per_version:
            window = self._per_version.get(key)
            if window is None:
                self._forget_idle_versions()
                limit = (
                    REGIONAL_VERSION_CHANGES_PER_SECOND if regional else VERSION_CHANGES_PER_SECOND
                )
                window = SlidingWindow(limit, 1.0, f"{limit} state changes/s to version {key}")
                self._per_version[key] = window
        else:
            window = self._per_secret.get(key)
            if window is None:
                limit = REGIONAL_SECRET_WRITES_PER_SECOND if regional else SECRET_WRITES_PER_SECOND
                window = SlidingWindow(limit, 1.0, f"{limit} writes/s to {key}")
                self._per_secret[key] = window
        windows.append(window)
        return windows

    def _forget_idle_versions(self) -> None:
        """Drop per-version windows with nothing in them: a sweep touches each version once,
        so without this a long-lived instance would keep one per version it ever changed."""
        now = self._clock()
        idle = [
            key
            for key, window in self._per_version.items()
            if not window.pending and window.sent_in_window(now) == 0
        ]
        for key in idle:
            del self._per_version[key]

    def _wait_for(self, windows: list[SlidingWindow], slots: int, what: str) -> None:
        """Wait, holding the lock between sleeps, until every window has ``slots`` free."""
        for window in windows:
            if slots > window.limit:
                raise ValueError(f"{what} needs {slots} slots of a budget of {window.limit}")
        waiting = _Waiting(self._clock(), what)
        while True:
            now = self._clock()
            waits = [window.wait(now, slots) for window in windows]
            if all(wait == 0.0 for wait in waits):
                return
            # Unknown: a reserved send must happen (or be cancelled) first; look again soon.
            wait = max(0.05 if wait is None else wait for wait in waits)
            busy = [w.name for w, v in zip(windows, waits, strict=True) if v != 0.0]
            waiting.check(now, wait, busy)
            self._sleep(min(wait, WAIT_LOG_SECONDS))

    def _wait_for_housekeeping(self, windows: list[SlidingWindow], what: str) -> None:
        """Like :meth:`_wait_for` for one slot, but spread out and leaving the reserve free."""
        budget = self._windows[QuotaKind.WRITE]
        waiting = _Waiting(self._clock(), what)
        while True:
            now = self._clock()
            waits = [window.wait(now, 1) for window in windows]
            # Also room for a refresh after this send: it needs HOUSEKEEPING_RESERVE slots.
            reserve = budget.wait(now, 1 + min(HOUSEKEEPING_RESERVE, budget.limit - 1))
            spacing = max(self._housekeeping_next - now, 0.0)
            if self._refreshes_waiting:
                spacing = max(spacing, 0.05)  # a refresh goes first; look again soon
            if all(wait == 0.0 for wait in (*waits, reserve)) and spacing == 0.0:
                self._housekeeping_next = now + self._housekeeping_spacing
                return
            wait = max(0.05 if wait is None else wait for wait in (*waits, reserve, spacing))
            busy = [w.name for w, v in zip(windows, waits, strict=True) if v != 0.0]
            waiting.check(now, wait, busy or [budget.name])
            self._sleep(min(wait, WAIT_LOG_SECONDS))

    def _send(self, kind: QuotaKind, scope: _Scope | None, *, reserved: bool) -> None:
        now = self._clock()
        for window in self._windows_for(kind, scope):
            window.send(now, reserved=reserved)


class _Waiting:
    """One call's wait for the budget: its time limit, and a log line every WAIT_LOG_SECONDS."""

    def __init__(self, started: float, what: str) -> None:
        self._started = started
        self._logged = started
        self._what = what
        self._limit = _wait_limit.get()

    def check(self, now: float, wait: float, busy: list[str]) -> None:
        """Raise PacingTimeoutError if waiting ``wait`` more would pass the limit; log if due."""
        in_use = " and ".join(busy)
        if self._limit is not None and now - self._started + wait > self._limit:
            raise PacingTimeoutError(
                f"{self._what} could not be sent within {self._limit:.1f}s: {in_use} is in "
                "use; run again later, or raise the budget if the project has room"
            )
        if now - self._logged >= WAIT_LOG_SECONDS:
            self._logged = now
            logs.log(
                "INFO",
                f"{self._what} has waited {now - self._started:.0f}s for {in_use}",
                event="rotation.waiting_for_budget",
                waited_seconds=round(now - self._started),
            )


# What a write is limited by besides the project's budget: (key, per version?, regional?). The
# key is the secret's location and id (and /versions/N). Secret Manager names the project by
# number in what it returns (the versions a sweep disables) and we by id in what we send (the
# lease, the add), so the full name would split one secret's writes over two windows. Secrets
# of the same id in two projects share a window, which only ever errs on the safe side; a
# global and a regional secret of the same id do not (their limits differ, and so do they).
_Scope = tuple[str, bool, bool]


def _scope_of(rpc: str, resource: str) -> _Scope | None:
    name = names.of(resource)
    if name is None:
        return None
    key = f"{name.location or 'global'}/{name.secret_id}"
    regional = name.location is not None
    version = resource.rsplit("/versions/", 1)[1] if "/versions/" in resource else None
    if rpc in PER_VERSION_RPCS and version is not None:
        return f"{key}/versions/{version}", True, regional
    if rpc in PER_SECRET_RPCS:
        return key, False, regional
    return None


def _secret_scope(secret: str) -> _Scope:
    """The per-secret write window of ``secret`` (see :data:`_Scope`)."""
    scope = _scope_of("AddSecretVersion", secret)
    return scope if scope is not None else (secret, False, False)


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
