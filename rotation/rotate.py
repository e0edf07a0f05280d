"""The rotation of one secret, as explicit steps.

1. **read**    the latest version and parse it as a token document;
2. **decide**  whether the key needs refreshing, on the key's own expiry (pure,
               :mod:`rotation.policy`);
3. **lease**   the secret, so that concurrent runs refresh it once (:mod:`rotation.lease`);
4. **refresh** the key through Momento;
5. **persist** the new document as a new version, at once: the refresh token is single-use,
               so until this lands the only copy of a working key is in this process;
6. **verify**  the stored key authenticates, before anything older is touched;
7. **sweep**   versions superseded for longer than the retention window, except any a version
               alias names, within a time budget.

Each step returns what it found; :func:`_result` turns that into the one :class:`SecretResult`
and its log line. Each step also looks at the state first, so running again after any failure
is safe. Nothing here catches an error to pretend success: a failure becomes a ``failed``
result, and the HTTP layer turns any failed result into a 500 so that Cloud Scheduler retries.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rotation import logs, pacing, redact
from rotation.config import Config
from rotation.durations import format_duration
from rotation.errors import (
    ConflictError,
    ErrorCode,
    KeyNotStoredError,
    MomentoAuthenticationError,
    MomentoError,
    MomentoTimeoutError,
    RotationError,
    SecretStoreError,
)
from rotation.pacing import Pacer
from rotation.policy import Decision, decide, epoch_to_rfc3339, rfc3339
from rotation.ports import KeyRefresher, SecretStore, StoredVersion, Verification, version_number
from rotation.retention import SweepPlan, VersionInfo, plan_disable
from rotation.token import (
    RefreshedKey,
    TokenDocument,
    check_rewritable,
    encode_v1_key,
    parse_document,
    render_refreshed,
)

if TYPE_CHECKING:
    # Imported where used: a run with nothing to refresh (the daily case) never needs them,
    # and every module a cold start imports costs it (see devtools/bench.py).
    from rotation import lease

# How long one secret's sweep may take, retries included. The sweep is housekeeping: a sick
# secret must not hold the run while a later secret is due (the next run finishes the sweep).
SWEEP_BUDGET = timedelta(seconds=10)


class Action(StrEnum):
    REFRESHED = "refreshed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class KeptVersion:
    """A version the sweep would have disabled, kept because a version alias names it."""

    version: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class SecretResult:
    """One secret's outcome, as the response and the summary log line report it."""

    secret: str
    action: Action
    reason: str = ""
    version: str | None = None
    valid_until: str | None = None  # when the latest key really expires (its exp)
    disabled_versions: tuple[str, ...] = ()
    kept_versions: tuple[KeptVersion, ...] = ()
    error_code: ErrorCode | None = None
    error_message: str | None = None
    # Skipped only because another run holds the lease: nothing was decided for this key yet.
    # Not part of the JSON; a Pub/Sub delivery is retried on it (see rotation.pubsub).
    busy: bool = False

    @property
    def failed(self) -> bool:
        return self.action is Action.FAILED

    def to_json(self) -> dict[str, Any]:
        error = None
        if self.error_code is not None:
            error = {
                "code": str(self.error_code),
                "message": redact.scrub(self.error_message or ""),
            }
        return {
            "secret": self.secret,
            "action": str(self.action),
            "reason": redact.scrub(self.reason),
            "version": self.version,
            "valid_until": self.valid_until,
            "disabled_versions": list(self.disabled_versions),
            "kept_versions": [
                {"version": kept.version, "aliases": list(kept.aliases)}
                for kept in self.kept_versions
            ],
            "error": error,
        }


@dataclass(frozen=True)
class Healthy:
    """The latest version, checked: parseable, unexpired. Only then may older versions go."""

    version: StoredVersion
    document: TokenDocument


@dataclass(frozen=True)
class Sweep:
    """What step 7 did (or, in a dry run, would do)."""

    disabled: tuple[str, ...] = ()
    kept: tuple[KeptVersion, ...] = ()
    note: str = ""
    error: SecretStoreError | None = None


@dataclass(frozen=True)
class UnderLease:
    """What steps 4 and 5 produced while holding the lease.

    ``latest`` is the healthy latest version afterwards (ours when we stored one and could read
    it back); ``stored`` names the version our refresh wrote, if any, even when a later check
    failed (``error``), so that the result always says where the new key is.
    """

    reason: str
    latest: Healthy | None = None
    stored: str | None = None
    stored_expiry: int | None = None
    error: RotationError | None = None


class Rotator:
    """Rotates secrets with the given adapters; one instance serves many requests."""

    def __init__(
        self,
        config: Config,
        store: SecretStore,
        refresher: Callable[[], KeyRefresher],
        clock: Callable[[], datetime],
        *,
        sweep_budget: timedelta = SWEEP_BUDGET,
        pacer: Pacer | None = None,
    ) -> None:
        self._config = config
        self._store = store
        # A factory, not an instance: building the Momento client imports Momento's packages,
        # which only the runs that actually refresh should pay for.
        self._refresher = refresher
        self._clock = clock
        self._sweep_budget = sweep_budget
        self._pacer = pacer

    def rotate(self, secret: str, *, force: bool, dry_run: bool) -> SecretResult:
        try:
            result = self._rotate(secret, force=force, dry_run=dry_run)
        except Exception as error:  # noqa: BLE001 - a bug must fail this secret, not the others
            _log_internal_error(secret, error)
            result = SecretResult(
                secret,
                Action.FAILED,
                error_code=ErrorCode.INTERNAL_ERROR,
                # Only the type: an unexpected exception's text may carry whatever it was handed.
                error_message=f"unexpected internal error ({type(error).__name__}); the secret "
                "may be partly rotated: check its versions, and report this with the function's "
                "logs (event rotation.internal_error)",
            )
        _log_summary(result)
        return result

    def _rotate(self, secret: str, *, force: bool, dry_run: bool) -> SecretResult:
        try:
            current = self._read(secret)
            decision = self._decide(current.document, force=force)
            if decision.refresh and dry_run:
                check_rewritable(current.document)
        except RotationError as error:
            # A latest version that can't be read or refreshed is no reason to sweep older ones.
            return _result(secret, error=error)
        reason = _with_expiry_note(decision.reason, current.document)
        if decision.refresh and not dry_run:
            return self._refresh(secret, current, reason)
        if decision.refresh:
            reason = f"dry run: would refresh, {reason}"
        sweep = self._sweep(secret, current, dry_run=dry_run)
        return _result(secret, reason=reason, latest=current, sweep=sweep)

    def _refresh(self, secret: str, current: Healthy, reason: str) -> SecretResult:
        """Steps 3 to 7, for a key that is due (or forced)."""
        from rotation import lease  # noqa: PLC0415 - only refreshes take the lease

        under: UnderLease | None = None
        # The lease's write and the new version's are reserved in the budget together, before
        # the lease: once Momento has spent the refresh token, the add never waits for budget.
        with self._pacer.refresh_writes(secret) if self._pacer else contextlib.nullcontext():
            try:
                outcome = lease.try_acquire(
                    self._store,
                    secret,
                    base_version=current.version.number,
                    now=self._clock(),
                    duration=self._config.lease_duration,
                )
            except RotationError as error:
                return _result(secret, latest=current, error=error)
            if outcome.acquired is not None:
                under = self._under_lease(secret, current, outcome, reason)
        # The secret as read for the lease: its aliases serve the sweep, with no second read.
        aliases = outcome.metadata.version_aliases
        if outcome.refreshed_at is not None:
            # Also for keys due again at once (a lifetime shorter than REFRESH_BEFORE) and for
            # forced runs: one burst, one refresh.
            lease_duration = self._config.lease_duration
            burst = (
                f"another invocation refreshed this key at {rfc3339(outcome.refreshed_at)}, "
                f"less than LEASE_DURATION ({format_duration(lease_duration)}) ago; a burst of "
                "runs refreshes once, even forced ones; force again after "
                f"{rfc3339(outcome.refreshed_at + lease_duration)}"
            )
            sweep = self._sweep(secret, current, dry_run=False, aliases=aliases)
            return _result(secret, reason=burst, latest=current, sweep=sweep)
        if under is None:
            return _result(
                secret, reason=_lease_held_reason(outcome.held_by), latest=current, busy=True
            )
        # Verification and the sweep run after the new version superseded the lease: they
        # change nothing that a concurrent run could duplicate.
        if under.error is not None or under.latest is None:
            return _result(secret, reason=under.reason, under=under, latest=current)
        try:
            sweep = self._verify_then_sweep(secret, under.latest, aliases)
        except RotationError as error:
            return _result(secret, reason=under.reason, under=under, error=error)
        return _result(secret, reason=under.reason, under=under, sweep=sweep)

    def _decide(self, document: TokenDocument, *, force: bool) -> Decision:
        return decide(
            document, now=self._clock(), refresh_before=self._config.refresh_before, force=force
        )

    def _under_lease(
        self, secret: str, current: Healthy, outcome: lease.LeaseOutcome, reason: str
    ) -> UnderLease:
        """Steps 4 and 5, holding the lease.

        A stored version supersedes the lease, which then stays as the record of this refresh;
        only a holder that stored nothing writes the lease again, to release it at once.
        """
        stored: UnderLease | None = None
        timed_out = False
        try:
            check_rewritable(current.document)
            try:
                refreshed = self._refresher().refresh(
                    current.document.key, current.document.refresh_token
                )
            except MomentoTimeoutError:
                # Momento may have refreshed, spending the token, without us hearing back.
                timed_out = True
                raise
            stored = self._store_refreshed(secret, current, refreshed, reason)
        except MomentoError as error:
            return UnderLease("", error=_explain_momento_error(error, outcome, current))
        except RotationError as error:
            return UnderLease("", error=error)
        else:
            return stored
        finally:
            if stored is None:
                self._release(secret, outcome, timed_out=timed_out)

    def _store_refreshed(
        self, secret: str, current: Healthy, refreshed: RefreshedKey, reason: str
    ) -> UnderLease:
        """Step 5: persist first; only then check what was written."""
        redact.register(
            (
                refreshed.jwt,
                refreshed.refresh_token,
                encode_v1_key(refreshed.endpoint, refreshed.jwt),
            )
        )
        payload = render_refreshed(current.document, refreshed)
        redact.register((payload.decode("utf-8"),))
        new_version = self._persist(secret, payload, current)
        # The new key is safe from here on: whatever fails next must say where it is.
        stored = UnderLease(reason, stored=new_version, stored_expiry=refreshed.expires_at)
        if not refreshed.refresh_token:
            missing = RotationError(
                "Momento returned the new key without a refresh token. The key is stored as "
                f"{new_version} and works until its expiry{_until(refreshed.expires_at)}, but "
                "it cannot be refreshed again: before then, create a new key in the Momento "
                "console and add it as a new version",
                code=ErrorCode.REFRESH_TOKEN_MISSING,
            )
            return replace(stored, error=missing)
        try:
            document = parse_document(payload)
        except RotationError as error:
            unreadable = RotationError(
                f"the refreshed key is stored as {new_version}, but that document cannot be "
                f"read back ({error.message}); check the version, and report this",
                code=ErrorCode.STORED_DOCUMENT_UNREADABLE,
            )
            return replace(stored, error=unreadable)
        latest = Healthy(StoredVersion(new_version, version_number(new_version), payload), document)
        return replace(stored, latest=latest)

    def _read(self, secret: str) -> Healthy:
        """Step 1: the latest version, parsed. Any failure here also means: do not sweep."""
        version = self._store.read_latest(secret)
        try:
            document = parse_document(version.data)
        except RotationError as error:
            raise type(error)(
                f"{version.name} is not a usable token document: {error.message}",
                code=error.code,
            ) from None
        redact.register((*document.secret_values, version.data.decode("utf-8", "replace")))
        return Healthy(version, document)

    def _persist(self, secret: str, payload: bytes, current: Healthy) -> str:
        """Step 5: store the refreshed document, retrying transient errors up to the deadline."""
        try:
            return self._store.add_version(secret, payload)
        except SecretStoreError as error:
            raise KeyNotStoredError(
                "Momento refreshed the key, but Secret Manager did not store it "
                f"({error.code}: {error.message}). The previous refresh token is now spent and "
                "the new key was not saved. The previous key keeps working until its own expiry"
                f"{_until(current.document.expires_at)}: before then, create a new key in the "
                "Momento console and add it as a new version of this secret (deploy.sh "
                "--seed-from FILE)"
            ) from None

    def _verify_then_sweep(self, secret: str, stored: Healthy, aliases: Mapping[str, int]) -> Sweep:
        """Step 6: prove the new key authenticates before any older version is disabled."""
        verification = self._refresher().verify(stored.document.key)
        if verification is Verification.REJECTED:
            raise RotationError(
                f"the refreshed key stored as {stored.version.name} was rejected by Momento; "
                "older versions were left enabled, but consumers reading 'latest' get the "
                "rejected key. Add the previous version's payload again as a new version (it "
                "becomes 'latest'), and create a new key in the Momento console",
                code=ErrorCode.NEW_KEY_REJECTED,
            )
        if verification is Verification.UNKNOWN:
            return Sweep(
                note="the new key could not be verified (Momento unavailable), so the retention "
                "sweep is postponed to the next run"
            )
        return self._sweep(secret, stored, dry_run=False, aliases=aliases)

    def _sweep(
        self,
        secret: str,
        latest: Healthy,
        *,
        dry_run: bool,
        aliases: Mapping[str, int] | None = None,
    ) -> Sweep:
        """Step 7: disable versions superseded for longer than the retention window.

        Stops at the first persistent failure, and when the sweep budget is spent: what is
        left waits for the next run, while later secrets in this run get their turn.
        ``aliases`` is the secret's alias map when this run has already read it (for the lease,
        seconds ago); otherwise it is read only if something is to be disabled.
        """
        started = time.monotonic()
        try:
            enabled = self._store.list_enabled(secret)
            plan = self._plan(enabled, latest)
            if plan.disable:
                # Only now is the alias map worth a read: aliased versions are never disabled.
                if aliases is None:
                    aliases = self._store.get_metadata(secret).version_aliases
                plan = self._plan(enabled, latest, aliases)
        except SecretStoreError as error:
            return Sweep(error=_sweep_stopped(0, None, error))
        kept = tuple(KeptVersion(version.name, names) for version, names in plan.kept_for_aliases)
        doomed = plan.disable
        if dry_run:
            note = f"dry run: would disable {len(doomed)} superseded version(s)" if doomed else ""
            return Sweep(tuple(version.name for version in doomed), kept, note)
        disabled: list[str] = []
        for version in doomed:
            remaining = self._sweep_budget.total_seconds() - (time.monotonic() - started)
            if remaining <= 0:
                spent = SecretStoreError(
                    f"its budget of {format_duration(self._sweep_budget)} is spent",
                    code=ErrorCode.SWEEP_INCOMPLETE,
                )
                return Sweep(
                    tuple(disabled), kept, error=_sweep_stopped(len(disabled), len(doomed), spent)
                )
            try:
                # Waiting for the write budget counts against the sweep's own budget.
                with pacing.wait_at_most(remaining):
                    self._store.disable(version, deadline=timedelta(seconds=remaining))
            except ConflictError:
                continue  # changed since we listed it: a concurrent sweep got there first
            except pacing.PacingTimeoutError as error:
                spent = SecretStoreError(
                    f"its budget of {format_duration(self._sweep_budget)} ran out waiting: "
                    f"{error.message}",
                    code=ErrorCode.SWEEP_INCOMPLETE,
                )
                return Sweep(
                    tuple(disabled), kept, error=_sweep_stopped(len(disabled), len(doomed), spent)
                )
            except SecretStoreError as error:
                failure = _sweep_stopped(len(disabled), len(doomed), error)
                return Sweep(tuple(disabled), kept, error=failure)
            disabled.append(version.name)
        return Sweep(tuple(disabled), kept)

    def _plan(
        self,
        enabled: Sequence[VersionInfo],
        latest: Healthy,
        aliases: Mapping[str, int] | None = None,
    ) -> SweepPlan:
        return plan_disable(
            enabled,
            latest_number=latest.version.number,
            now=self._clock(),
            retention=self._config.retention,
            min_enabled=self._config.min_enabled_versions,
            aliases=aliases,
        )

    def _release(self, secret: str, outcome: lease.LeaseOutcome, *, timed_out: bool) -> None:
        from rotation import lease  # noqa: PLC0415 - only refreshes take the lease

        try:
            lease.release(self._store, secret, outcome, now=self._clock(), timed_out=timed_out)
        except SecretStoreError as error:
            expires_at = outcome.acquired.expires_at if outcome.acquired else None
            logs.warning(
                "could not release the rotation lease; it expires by itself",
                secret=secret,
                error_code=str(error.code),
                lease_expires_at=rfc3339(expires_at) if expires_at else None,
            )


def _result(
    secret: str,
    *,
    reason: str = "",
    latest: Healthy | None = None,
    under: UnderLease | None = None,
    sweep: Sweep | None = None,
    error: RotationError | None = None,
    busy: bool = False,
) -> SecretResult:
    """The one place a SecretResult is built, from what the steps returned."""
    sweep = sweep or Sweep()
    error = error or (under.error if under else None) or sweep.error
    version, expiry = None, None
    if latest is not None:
        version, expiry = latest.version.name, latest.document.expires_at
    if under is not None and under.stored is not None:
        version, expiry = under.stored, under.stored_expiry
    refreshed = under is not None and under.stored is not None
    action = Action.FAILED if error else Action.REFRESHED if refreshed else Action.SKIPPED
    reason = "; ".join(part for part in (reason, sweep.note) if part)
    return SecretResult(
        secret=secret,
        action=action,
        reason=reason,
        version=version,
        valid_until=epoch_to_rfc3339(expiry),
        disabled_versions=sweep.disabled,
        kept_versions=sweep.kept,
        error_code=error.code if error else None,
        error_message=redact.scrub(error.message) if error else None,
        busy=busy,
    )


def _with_expiry_note(reason: str, document: TokenDocument) -> str:
    disagreement = document.expiry_disagreement
    return f"{reason}; {disagreement}" if disagreement else reason


def _sweep_stopped(done: int, of: int | None, error: SecretStoreError) -> SecretStoreError:
    progress = f"after disabling {done} of {of} versions" if of is not None else "before it began"
    return SecretStoreError(
        f"the retention sweep stopped {progress}: {error.message}. The new key is in place; the "
        "next run finishes the sweep",
        code=error.code,
    )


def _explain_momento_error(
    error: MomentoError, outcome: lease.LeaseOutcome, current: Healthy
) -> MomentoError:
    """``error`` with what earlier runs left behind that explains it, as a new error."""
    if isinstance(error, MomentoAuthenticationError):
        note = _history_note(outcome, current)
        return MomentoAuthenticationError(error.message + note) if note else error
    if isinstance(error, MomentoTimeoutError):
        return MomentoTimeoutError(
            f"{error.message}. Momento may have completed the refresh without answering, which "
            "spends the refresh token: if the next run is refused, create a new key in the "
            "Momento console"
        )
    return error


def _history_note(outcome: lease.LeaseOutcome, current: Healthy) -> str:
    """What earlier runs left behind that explains a refused refresh of ``current``."""
    number = current.version.number
    abandoned = outcome.abandoned
    if abandoned is not None and abandoned.base_version == number:
        return (
            f". A previous run took the rotation lease at {rfc3339(abandoned.taken_at)} to "
            f"refresh {current.version.name} and never stored a result (it was probably killed "
            "between the refresh and the write), so it likely spent this refresh token"
        )
    timed_out_at = outcome.timed_out_at
    if timed_out_at is not None:
        return (
            f". A previous run's refresh of {current.version.name} at {rfc3339(timed_out_at)} got "
            "no answer from Momento in time; Momento probably completed it and spent this "
            "refresh token"
        )
    return ""


def _lease_held_reason(held: lease.Lease | None) -> str:
    if held is None:
        return "another invocation took the rotation lease just now and is refreshing"
    return (
        f"another invocation holds the rotation lease (taken {rfc3339(held.taken_at)}) and is "
        f"refreshing; if that run died, the first run after {rfc3339(held.expires_at)} takes "
        "over and reports what happened"
    )


def _until(expires_at: int | None) -> str:
    shown = epoch_to_rfc3339(expires_at)
    return f" ({shown})" if shown else ""


def _log_internal_error(secret: str, error: Exception) -> None:
    """Where a bug happened, without its message (which may carry whatever it was handed)."""
    import traceback  # noqa: PLC0415 - only bugs need it

    frames = [
        f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(error.__traceback__)
    ]
    logs.error(
        f"{secret}: unexpected internal error ({type(error).__name__})",
        event="rotation.internal_error",
        secret=secret,
        error_type=f"{type(error).__module__}.{type(error).__qualname__}",
        frames=frames[-8:],
    )


def _log_summary(result: SecretResult) -> None:
    severity = "INFO"
    if result.failed:
        severity = "CRITICAL" if result.error_code is KeyNotStoredError.code else "ERROR"
    summary = result.reason
    if result.failed:
        summary = "; ".join(part for part in (result.error_message, result.reason) if part)
    logs.log(
        severity,
        f"{result.secret}: {result.action}: {summary}",
        event="rotation.result",
        secret=result.secret,
        action=str(result.action),
        version=result.version,
        valid_until=result.valid_until,
        disabled_versions=list(result.disabled_versions),
        kept_versions=[kept.version for kept in result.kept_versions],
        error_code=str(result.error_code) if result.error_code else None,
    )
