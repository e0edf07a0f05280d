"""Read the Momento key that the rotation function keeps fresh, from your own application.

::

    from momento_key_reader import KeyReader

    reader = KeyReader("momento-api-key", project="my-project")
    client = CacheClient.create(Configurations.Laptop.latest(), reader.credential_provider(), ttl)
    reader.api_key()  # the key itself, for other SDKs

This package is for the application, not the function: ``pip install ./reader`` (add
``[momento]`` for :meth:`KeyReader.credential_provider`). It needs ``google-cloud-secret-manager``
and shares the token document, secret names and error codes with the function
(``momento_key_common``, carried in the same wheel); it never imports the function's
configuration, Flask or functions-framework.

It finds what the function finds: with no ``client`` and no ``emulator_host``, it honours
``SECRET_MANAGER_EMULATOR_HOST`` as the function does, and a short secret name is looked up in
``project``, else ``GOOGLE_CLOUD_PROJECT``. Explicit arguments win.

The policy, and why:

- **Read once, then serve from memory.** Only ``versions/latest`` is accessed, one access per
  attempt (the client's own retry is turned off, so every retry is ours and counted). Nothing
  else is ever called: reads and lists have a quota of 600 a minute per project, accesses
  90,000.
- **Re-read on the next call** once the cached document is ``max_age`` old (default 5 minutes),
  or once the key is within ``margin`` (default 1 hour) of its own JWT ``exp``, and from then on
  at most every ``min_interval`` (default 30 s). On the next call rather than from a background
  thread: there is no thread to own, so the reader works unchanged under gunicorn's fork, in
  Cloud Run and Cloud Functions (which throttle the CPU between requests, so a background timer
  stalls), and in short scripts; an idle process makes no accesses at all. The price is that
  one call per ``max_age`` waits for one access, while every other caller keeps getting the
  cached key. The function refreshes keys days before they expire, so minutes of lag are free.
- **Single flight.** At most one access is in flight. A caller with a valid cached key never
  waits for it. Callers without one (the first call, an expired key, after :meth:`invalidate`)
  wait for that one access and share its result: 100 threads asking at once cost one access.
- **invalidate()** is for when Momento answers UNAUTHENTICATED. It makes callers wait for one
  re-read, at most once per ``min_interval`` since the last access, so a storm of
  authentication errors costs one access, not thousands.
- **Failures.** A failed re-read keeps serving the cached key until its ``exp``, logs a
  warning, and tries again with exponential backoff (1 s, doubling, at most 60 s). Without a
  valid key, the first read retries transient errors (sleeping 1 s, then 2 s) within ``timeout``
  (default 10 s), which bounds the whole read, retries and waits included, and then raises
  :class:`KeyUnavailableError`, which names the secret and the cause; calls during the backoff
  raise it at once, without an access.
- **Never a key in a log or an error.** Messages name the secret, the version, the expiry and
  the error code. Log records go to the ``momento_key_reader`` logger.

Times come from ``clock`` (epoch seconds, since the key's ``exp`` is) and waits go through
``sleep``; both are parameters, so tests need no patching.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from momento_key_common import clients, names
from momento_key_common.errors import ErrorCode, RotationError
from momento_key_common.token import ApiKey, KeyForm, parse_key
from momento_key_reader.failures import Failure, failure_of

if TYPE_CHECKING:
    from momento.auth import CredentialProvider

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE: Final = timedelta(minutes=5)
DEFAULT_MARGIN: Final = timedelta(hours=1)
DEFAULT_MIN_INTERVAL: Final = timedelta(seconds=30)
DEFAULT_TIMEOUT: Final = timedelta(seconds=10)
BACKOFF_INITIAL_SECONDS: Final = 1.0
BACKOFF_MAX_SECONDS: Final = 60.0
# The first read without a key may retry a transient error: a blip at start-up should not
# reach the application. Later reads make one attempt each and let the backoff space them.
FIRST_READ_ATTEMPTS: Final = 3

_MOMENTO_TLS_PORT = 443  # the Momento SDK uses TLS exactly when a provider's port is 443


class KeyUnavailableError(RotationError):
    """No valid key to hand out: none was read, or the cached one expired, and reading failed.

    ``code`` says why (``not_found``, ``permission_denied``, ``key_expired``, ...).
    """


@dataclass(frozen=True, repr=False)
class _Entry:
    """A key as read: from which version, and when."""

    key: ApiKey
    version: str
    read_at: float

    def __repr__(self) -> str:
        return f"_Entry(version={self.version!r}, key={self.key!r})"


_Outcome = _Entry | Failure


class KeyReader:
    """The current Momento key of one secret, read with the policy in the module docstring.

    ``secret`` is ``projects/P/secrets/S``, ``projects/P/locations/L/secrets/S`` (regional), or
    ``S`` with ``project`` (default: ``GOOGLE_CLOUD_PROJECT``). Pass ``client`` to share a
    ``SecretManagerServiceClient`` you already have; otherwise one is built on the first read,
    with Application Default Credentials for the secret's endpoint, or plaintext to
    ``emulator_host`` (``host:port``; default: ``SECRET_MANAGER_EMULATOR_HOST``). ``timeout``
    bounds a whole read that has no key to fall back on, retries included.
    """

    def __init__(
        self,
        secret: str,
        *,
        project: str | None = None,
        client: Any = None,
        emulator_host: str | None = None,
        max_age: timedelta = DEFAULT_MAX_AGE,
        margin: timedelta = DEFAULT_MARGIN,
        min_interval: timedelta = DEFAULT_MIN_INTERVAL,
        timeout: timedelta = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if client is not None and emulator_host:
            raise ValueError("pass client or emulator_host, not both")
        if min_interval > max_age:
            raise ValueError("min_interval must not exceed max_age")
        if timeout <= timedelta(0):
            raise ValueError("timeout must be longer than zero")
        # What the function reads, unless the caller says otherwise.
        if client is None and emulator_host is None:
            emulator_host = os.environ.get(clients.EMULATOR_VARIABLE) or None
        if project is None:
            project = os.environ.get("GOOGLE_CLOUD_PROJECT") or None
        self.secret = _secret_name(secret, project)
        self._client = client
        self._own_client = client is None
        self._emulator_host = emulator_host
        self._max_age = max_age.total_seconds()
        self._margin = margin.total_seconds()
        self._min_interval = min_interval.total_seconds()
        self._timeout = timeout.total_seconds()
        self._clock = clock
        self._sleep = sleep
        # One lock guards the state below; waiters for an in-flight read wait on it.
        self._changed = threading.Condition(threading.Lock())
        self._entry: _Entry | None = None
        self._next_read_at = float("-inf")
        self._last_attempt_at = float("-inf")
        self._reading = False
        self._invalidated = False  # callers wait for the re-read instead of using the key
        self._failures = 0  # failed attempts since the last success
        self._failure: Failure | None = None
        self._provider: tuple[str, str | None, CredentialProvider] | None = None

    def __repr__(self) -> str:
        entry = self._entry
        version = entry.version if entry else None
        return f"KeyReader(secret={self.secret!r}, version={version!r})"

    # -- what the application calls ------------------------------------------------------------

    def api_key(self) -> str:
        """The current key, exactly as stored (the form Momento's SDKs parse)."""
        return self._current().key.text

    def credential_provider(self, *, emulator_address: str | None = None) -> CredentialProvider:
        """A ``momento.auth.CredentialProvider`` for the current key, ready for ``CacheClient``.

        The same object comes back while the key is unchanged, so ``is`` tells an application
        when to build a new client. ``emulator_address`` (``host:port``) sends every Momento call
        in plaintext there instead of to the key's endpoints: for local emulators only.
        """
        return self._provider_for(self._current(), emulator_address)

    @property
    def expires_at(self) -> datetime | None:
        """When the current key stops working (its JWT ``exp``); None if it never does."""
        expires_at = self._current().key.expires_at
        return None if expires_at is None else datetime.fromtimestamp(expires_at, UTC)

    @property
    def version(self) -> str:
        """The Secret Manager version the current key came from."""
        return self._current().version

    def invalidate(self) -> bool:
        """Distrust the cached key (Momento said UNAUTHENTICATED): the next call waits for a
        re-read. Rate-limited to once per ``min_interval`` since the last access; returns
        whether a re-read was scheduled."""
        with self._changed:
            now = self._clock()
            entry = self._entry
            if entry is None or self._reading or self._invalidated:
                return False  # nothing to distrust yet, or a re-read is already coming
            too_soon = now < self._last_attempt_at + self._min_interval
            if not too_soon:
                self._invalidated = True
                self._next_read_at = now
        if too_soon:
            logger.debug(
                "ignored invalidate() for %s: the last read was under %.0f s ago",
                self.secret,
                self._min_interval,
                extra={"event": "momento_key.invalidate_ignored", "secret": self.secret},
            )
            return False
        logger.info(
            "the key from %s was rejected; re-reading %s on the next call",
            entry.version,
            self.secret,
            extra={"event": "momento_key.invalidated", "secret": self.secret},
        )
        return True

    def close(self) -> None:
        """Close the Secret Manager client this reader built (a client passed in stays open)."""
        if not self._own_client:
            return
        with self._changed:
            client, self._client = self._client, None
        if client is not None:
            client.transport.close()

    # -- the policy ----------------------------------------------------------------------------

    def _current(self) -> _Entry:
        """The entry to serve: from memory, after waiting for a read in flight, or read now."""
        with self._changed:
            while True:
                now = self._clock()
                served = self._servable(now)
                if served is not None:
                    return served
                if not self._reading:
                    break
                self._changed.wait()
            entry = self._usable(now)
            if entry is None and now < self._next_read_at:
                raise self._unavailable(now)  # backing off, with nothing valid to serve
            self._reading = True
            self._last_attempt_at = now
            # Retry within this call only when there is no unexpired key at all to fall back on.
            cached = self._entry
            fallback = cached is not None and _valid(cached.key, now)
            attempts = 1 if fallback or self._failures else FIRST_READ_ATTEMPTS
        return self._read(attempts)

    def _without_waiting(self) -> _Entry | None:
        """The entry, if one can be served without accessing Secret Manager now."""
        with self._changed:
            return self._servable(self._clock())

    def _servable(self, now: float) -> _Entry | None:
        """The entry if it is usable and no read is due (or one is in flight already)."""
        entry = self._usable(now)
        if entry is not None and (self._reading or now < self._next_read_at):
            return entry
        return None

    def _usable(self, now: float) -> _Entry | None:
        """The cached entry unless there is none, it was invalidated, or its key expired."""
        entry = self._entry
        if entry is None or self._invalidated or not _valid(entry.key, now):
            return None
        return entry

    def _read(self, attempts: int) -> _Entry:
        outcome: _Outcome = Failure(
            ErrorCode.INTERNAL_ERROR, "the read was interrupted", "it is retried"
        )
        tries = 1
        try:
            outcome, tries = self._fetch(attempts)
        finally:
            # Even if interrupted: the single flight must end, or every caller would hang.
            with self._changed:
                report = self._settle(outcome, tries)
                self._changed.notify_all()
            report()  # logged outside the lock: a slow log handler must not hold up callers
        if isinstance(outcome, _Entry):
            return outcome
        with self._changed:
            now = self._clock()
            entry = self._usable(now)
            if entry is None:
                raise self._unavailable(now)
            return entry

    def _settle(self, outcome: _Outcome, tries: int) -> Callable[[], None]:
        """Record a read's outcome and when to read next; return how to log it. Called with
        the lock held."""
        now = self._clock()
        previous = self._entry
        self._reading = False
        self._invalidated = False
        if isinstance(outcome, _Entry):
            self._entry, self._failures, self._failure = outcome, 0, None
            self._next_read_at = self._next_read(outcome)
            return functools.partial(
                _log_read, self.secret, outcome, previous, self._next_read_at - now
            )
        self._failures += tries
        self._failure = outcome
        self._next_read_at = now + _backoff(self._failures)
        return functools.partial(
            _log_failure, self.secret, outcome, self._usable(now), self._next_read_at - now
        )

    def _next_read(self, entry: _Entry) -> float:
        due = entry.read_at + self._max_age
        expires_at = entry.key.expires_at
        if expires_at is None:
            return due
        # Near the key's expiry re-read more often (the operator may be adding a key by hand),
        # but never more often than min_interval; at expiry at once, since it cannot be served.
        due = max(min(due, expires_at - self._margin), entry.read_at + self._min_interval)
        return min(due, float(expires_at))

    def _unavailable(self, now: float) -> KeyUnavailableError:
        failure = self._failure or Failure(
            ErrorCode.SECRET_MANAGER_ERROR, "no read has succeeded yet", "try again"
        )
        expired = ""
        cached = self._entry
        if (
            cached is not None
            and cached.key.expires_at is not None
            and not _valid(cached.key, now)
            and failure.code is not ErrorCode.KEY_EXPIRED  # which says so itself
        ):
            expired = f"the cached key expired at {_iso(cached.key.expires_at)}; "
        retry_in = max(0.0, self._next_read_at - now)
        return KeyUnavailableError(
            f"no valid Momento key for {self.secret}: {expired}{failure.explained()}. "
            f"The next read is in {retry_in:.0f} s",
            code=failure.code,
        )

    # -- one read ------------------------------------------------------------------------------

    def _fetch(self, attempts: int) -> tuple[_Outcome, int]:
        """Up to ``attempts`` accesses, retrying transient failures, all within ``timeout``;
        the outcome and the number of accesses made."""
        deadline = self._clock() + self._timeout
        attempt = 1
        while True:
            outcome = self._fetch_once(deadline - self._clock())
            if isinstance(outcome, _Entry) or not outcome.transient or attempt >= attempts:
                return outcome, attempt
            pause = _backoff(attempt)
            if self._clock() + pause >= deadline:
                return self._out_of_time(outcome), attempt
            self._sleep(pause)
            attempt += 1

    def _out_of_time(self, last: Failure) -> Failure:
        return replace(
            last,
            reason=f"{last.reason} (no answer within timeout, {self._timeout:g} s, retries "
            "included)",
        )

    def _fetch_once(self, time_left: float) -> _Outcome:
        if time_left <= 0:
            return Failure(
                ErrorCode.SECRET_MANAGER_TIMEOUT,
                f"no answer from Secret Manager within timeout ({self._timeout:g} s)",
                "it is retried",
                transient=True,
            )
        try:
            response = self._secret_manager().access_secret_version(
                name=f"{self.secret}/versions/latest", retry=None, timeout=time_left
            )
            version = str(response.name)
            data = bytes(response.payload.data)
            if not _checksum_matches(data, response.payload.data_crc32c):
                return Failure(
                    ErrorCode.CHECKSUM_MISMATCH,
                    f"{version} failed its CRC32C check",
                    "it is read again; if it persists, add a new version with the token document",
                    transient=True,
                )
            key = parse_key(data)
        except Exception as error:  # noqa: BLE001 - every failure becomes a Failure, see below
            # Whatever went wrong, the single flight must end with a recorded failure, so the
            # backoff holds and callers get a clear error rather than each retrying at once.
            cached = self._entry
            return failure_of(error, (cached.key.text, cached.key.jwt) if cached else ())
        return self._checked(key, version)

    def _checked(self, key: ApiKey, version: str) -> _Outcome:
        now = self._clock()
        if key.form is KeyForm.V2:
            return Failure(
                ErrorCode.V2_KEY_NOT_REFRESHABLE,
                f"{version} holds a v2 Momento API key, which the rotation function does not "
                "maintain",
                "store a v1 key from the Momento console, or build the credential with "
                "CredentialProvider.from_api_key_v2 instead of this reader",
            )
        if not _valid(key, now):
            return Failure(
                ErrorCode.KEY_EXPIRED,
                f"{version} holds a key that expired at {_iso(key.expires_at or 0)}",
                "the rotation function has not refreshed it: check its logs, or add a version "
                "with a new key from the Momento console",
            )
        return _Entry(key, version, now)

    def _secret_manager(self) -> Any:
        # Only the single reading thread gets here, so building the client needs no lock.
        if self._client is None:
            self._client = _make_client(self._emulator_host, self.secret)
        return self._client

    def _provider_for(self, entry: _Entry, address: str | None) -> CredentialProvider:
        with self._changed:
            cached = self._provider
        if cached is not None and cached[0] == entry.key.text and cached[1] == address:
            return cached[2]
        provider = _credential_provider(entry.key, address)
        with self._changed:
            self._provider = (entry.key.text, address, provider)
        return provider


class AsyncKeyReader:
    """A :class:`KeyReader` for asyncio code: the same policy, without blocking the loop.

    Serving from memory is a plain call. Only a call that must access Secret Manager runs in a
    worker thread (``asyncio.to_thread``), and the coroutines of one event loop queue behind
    that one call instead of each holding a thread of the default executor. Use one
    ``AsyncKeyReader`` per event loop; the ``KeyReader`` inside may be shared with threads.
    """

    def __init__(self, reader: KeyReader) -> None:
        self.reader = reader
        self._lock = asyncio.Lock()

    async def api_key(self) -> str:
        return (await self._entry()).key.text

    async def credential_provider(
        self, *, emulator_address: str | None = None
    ) -> CredentialProvider:
        return self.reader._provider_for(await self._entry(), emulator_address)

    async def expires_at(self) -> datetime | None:
        expires_at = (await self._entry()).key.expires_at
        return None if expires_at is None else datetime.fromtimestamp(expires_at, UTC)

    def invalidate(self) -> bool:
        return self.reader.invalidate()

    async def _entry(self) -> _Entry:
        entry = self.reader._without_waiting()
        if entry is not None:
            return entry
        async with self._lock:
            entry = self.reader._without_waiting()  # another coroutine may have just read
            if entry is not None:
                return entry
            return await asyncio.to_thread(self.reader._current)


# -- helpers ---------------------------------------------------------------------------------


def _secret_name(secret: str, project: str | None) -> str:
    if project is not None and "/" in project:
        raise ValueError(
            f"project={project[:80]!r} is not a project id: pass the project id alone (such as "
            "'my-project'); for a regional secret, pass its full name "
            "projects/PROJECT/locations/LOCATION/secrets/SECRET as the secret"
        )
    full = names.parse(secret)
    if full is not None:
        if project is not None and full.project != project:
            raise ValueError(f"{secret} is not in project {project!r}; pass one or the other")
        return secret
    try:
        return str(names.resolve(secret, project))
    except names.NoProjectError:
        raise ValueError(
            f"{secret!r} is a short secret name: pass project=, or the full name "
            f"projects/PROJECT/secrets/{secret}"
        ) from None
    except names.NameFormError as error:
        what = "" if error.detail is None else f" ({error.detail})"
        raise ValueError(
            f"{secret[:120]!r} is not a secret name{what}: expected "
            "projects/PROJECT/secrets/SECRET, projects/PROJECT/locations/LOCATION/secrets/SECRET, "
            "or SECRET with project= (the reader always reads the latest version, so name no "
            "version)"
        ) from None


def _make_client(emulator_host: str | None, secret: str) -> Any:
    if emulator_host:
        return clients.emulator_client(clients.emulator_channel(emulator_host))
    # A regional secret is served only by its location's endpoint.
    name = names.parse(secret)
    return clients.google_client(endpoint=name.endpoint if name is not None else None)


def _credential_provider(key: ApiKey, address: str | None) -> CredentialProvider:
    # Built directly rather than with the deprecated CredentialProvider.from_string: the key is
    # already parsed, endpoint included, exactly as the SDK's resolver would parse it.
    from momento.auth import CredentialProvider  # noqa: PLC0415 (only Momento users pay for it)

    if address is not None:
        host, port = _host_port(address)
        return CredentialProvider(key.jwt, host, host, host, port)
    endpoint = key.endpoint or ""  # v1 and legacy keys always name one; v2 is refused on read
    return CredentialProvider(
        auth_token=key.jwt,
        control_endpoint=f"control.{endpoint}",
        cache_endpoint=f"cache.{endpoint}",
        token_endpoint=f"token.{endpoint}",
        port=_MOMENTO_TLS_PORT,
    )


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"emulator_address must be host:port, not {address!r}")
    if int(port) == _MOMENTO_TLS_PORT:
        raise ValueError("emulator_address cannot use port 443: Momento's SDK would use TLS")
    return host, int(port)


def _checksum_matches(data: bytes, checksum: int | None) -> bool:
    if checksum is None:
        return True
    try:
        import google_crc32c  # noqa: PLC0415
    except ImportError:  # not a dependency of the Secret Manager client: check when present
        return True
    return bool(google_crc32c.value(data) == checksum)


def _valid(key: ApiKey, now: float) -> bool:
    return key.expires_at is None or now < key.expires_at


def _backoff(failures: int) -> float:
    return float(min(BACKOFF_INITIAL_SECONDS * 2 ** (failures - 1), BACKOFF_MAX_SECONDS))


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _log_read(secret: str, entry: _Entry, previous: _Entry | None, next_in: float) -> None:
    expires = _iso(entry.key.expires_at) if entry.key.expires_at is not None else "never"
    fields = {
        "event": "momento_key.read",
        "secret": secret,
        "version": entry.version,
        "expires_at": expires,
        "next_read_in_seconds": round(next_in),
    }
    if previous is None:
        logger.info(
            "read the Momento key from %s (expires %s)", entry.version, expires, extra=fields
        )
    elif previous.key.text != entry.key.text:
        logger.info(
            "picked up a new Momento key from %s, replacing %s (expires %s)",
            entry.version,
            previous.version,
            expires,
            extra={**fields, "event": "momento_key.changed", "previous_version": previous.version},
        )
    else:
        logger.debug("re-read %s: the key is unchanged", entry.version, extra=fields)


def _log_failure(secret: str, failure: Failure, serving: _Entry | None, next_in: float) -> None:
    fields = {
        "event": "momento_key.read_failed",
        "secret": secret,
        "error_code": str(failure.code),
        "next_read_in_seconds": round(next_in),
    }
    if serving is not None:
        expires = _iso(serving.key.expires_at) if serving.key.expires_at is not None else "never"
        logger.warning(
            "could not re-read %s (%s: %s); still serving the key from %s, valid until %s; "
            "next read in %.0f s",
            secret,
            failure.code,
            failure.reason,
            serving.version,
            expires,
            next_in,
            extra={**fields, "serving_version": serving.version},
        )
        return
    logger.error(
        "no valid Momento key for %s (%s): %s; next read in %.0f s",
        secret,
        failure.code,
        failure.explained(),
        next_in,
        extra=fields,
    )
