"""The rotation of one secret, as explicit steps.

1. **read**    the latest version and parse it as a token document;
2. **decide**  whether the key needs refreshing (pure, :mod:`rotation.policy`);
3. **lease**   the secret, so that concurrent runs refresh it once (:mod:`rotation.lease`);
4. **refresh** the key through Momento;
5. **persist** the new document as a new version, at once: the refresh token is single-use,
               so until this lands the only copy of a working key is in this process;
6. **verify**  the stored key authenticates, before anything older is touched;
7. **sweep**   versions superseded for longer than the retention window.

Each step looks at the state first, so running again after any failure is safe. Nothing here
catches an error to pretend success: a failure becomes a ``failed`` result, and the HTTP layer
turns any failed result into a 500 so that Cloud Scheduler retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rotation import lease, logs, redact
from rotation.config import Config
from rotation.errors import KeyNotStoredError, MomentoError, RotationError, SecretStoreError
from rotation.policy import decide, epoch_to_rfc3339, rfc3339
from rotation.ports import KeyRefresher, SecretStore, StoredVersion, Verification, version_number
from rotation.retention import plan_disable
from rotation.token import (
    RefreshedKey,
    TokenDocument,
    check_rewritable,
    encode_v1_key,
    parse_document,
    render_refreshed,
)

REFRESHED, SKIPPED, FAILED = "refreshed", "skipped", "failed"


@dataclass
class SecretResult:
    """One secret's outcome, as the response and the summary log line report it."""

    secret: str
    action: str = SKIPPED
    reason: str = ""
    version: str | None = None
    valid_until: str | None = None
    disabled_versions: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None

    def fail(self, error: RotationError) -> SecretResult:
        self.action = FAILED
        self.reason = error.message
        self.error = {"code": error.code, "message": redact.scrub(error.message)}
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "secret": self.secret,
            "action": self.action,
            "reason": redact.scrub(self.reason),
            "version": self.version,
            "valid_until": self.valid_until,
            "disabled_versions": list(self.disabled_versions),
            "error": self.error,
        }


@dataclass(frozen=True)
class Healthy:
    """The latest version, checked: parseable, unexpired. Only then may older versions go."""

    version: StoredVersion
    document: TokenDocument


class Rotator:
    """Rotates secrets with the given adapters; one instance serves many requests."""

    def __init__(
        self,
        config: Config,
        store: SecretStore,
        refresher: Callable[[], KeyRefresher],
        clock: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._store = store
        # A factory, not an instance: building the Momento client imports Momento's packages,
        # which only the runs that actually refresh should pay for.
        self._refresher = refresher
        self._clock = clock

    def rotate(self, secret: str, *, force: bool, dry_run: bool) -> SecretResult:
        result = SecretResult(secret)
        try:
            self._rotate(secret, result, force=force, dry_run=dry_run)
        except RotationError as error:
            result.fail(error)
        except Exception as error:  # noqa: BLE001 - a bug must fail this secret, not the others
            # Only the type: an unexpected exception's text may carry whatever it was handed.
            result.fail(
                RotationError(
                    f"unexpected internal error ({type(error).__name__}); the secret may be "
                    "partly rotated: check its versions, and report this with the function's logs",
                    code="internal_error",
                )
            )
        _log_summary(result)
        return result

    def _rotate(self, secret: str, result: SecretResult, *, force: bool, dry_run: bool) -> None:
        current = self._read(secret, result)
        document = current.document
        decision = decide(
            document, now=self._clock(), refresh_before=self._config.refresh_before, force=force
        )
        if not decision.refresh:
            result.reason = decision.reason
            self._sweep(secret, current, result, dry_run=dry_run)
            return
        if dry_run:
            check_rewritable(document)
            result.reason = f"dry run: would refresh, {decision.reason}"
            self._sweep(secret, current, result, dry_run=True)
            return

        outcome = lease.try_acquire(
            self._store,
            secret,
            base_version=current.version.number,
            now=self._clock(),
            duration=self._config.lease_duration,
        )
        if outcome.acquired is None:
            result.reason = _lease_held_reason(outcome.held_by)
            return
        latest, refreshed = self._under_lease(
            secret, current, result, outcome, outcome.acquired, force=force
        )
        # Verification and the sweep run after the lease is released: they change nothing that
        # a concurrent run could duplicate, and the lease should outlive only the refresh.
        if refreshed:
            self._verify_then_sweep(secret, latest, result)
        else:
            self._sweep(secret, latest, result, dry_run=False)

    def _under_lease(
        self,
        secret: str,
        read_before_lease: Healthy,
        result: SecretResult,
        outcome: lease.LeaseOutcome,
        held: lease.Lease,
        *,
        force: bool,
    ) -> tuple[Healthy, bool]:
        """Steps 4 and 5, holding the lease: the latest version, and whether we refreshed it."""
        attempt: lease.LastAttempt | None = None
        try:
            # Another run may have refreshed between our read and our lease: look again, so
            # that a burst of invocations produces exactly one refresh.
            current = self._read(secret, result)
            now = self._clock()
            done_by_another = self._done_by_another(current, read_before_lease, outcome, now)
            if done_by_another:
                result.reason = done_by_another
                return current, False
            decision = decide(
                current.document, now=now, refresh_before=self._config.refresh_before, force=force
            )
            check_rewritable(current.document)
            try:
                refreshed = self._refresher().refresh(
                    current.document.key, current.document.refresh_token
                )
            except MomentoError as error:
                if error.code == "authentication":
                    error.message += _history_note(outcome, current)
                elif error.code == "timeout":
                    # Momento may have refreshed, spending the token, without us hearing back.
                    attempt = lease.LastAttempt(
                        current.version.number, now, lease.Outcome.TIMED_OUT
                    )
                    error.message += (
                        ". Momento may have completed the refresh without answering, which "
                        "spends the refresh token: if the next run is refused, create a new key "
                        "in the Momento console"
                    )
                raise
            stored = self._store_refreshed(secret, current, refreshed, decision.reason, result)
            attempt = lease.LastAttempt(stored.version.number, now, lease.Outcome.REFRESHED)
            return stored, True
        finally:
            self._release(secret, held, attempt)

    def _done_by_another(
        self,
        current: Healthy,
        read_before_lease: Healthy,
        outcome: lease.LeaseOutcome,
        now: datetime,
    ) -> str | None:
        """Why this run should not refresh after all, if another run just did."""
        # decide() also refuses an expired or unusable latest version before anything is swept.
        due = decide(
            current.document, now=now, refresh_before=self._config.refresh_before, force=False
        )
        if current.version.number != read_before_lease.version.number:
            return f"refreshed meanwhile by another invocation; {due.reason}"
        last = outcome.last_attempt
        if (
            last is not None
            and last.outcome is lease.Outcome.REFRESHED
            and last.version == current.version.number
            and now - last.at < self._config.lease_duration
        ):
            # Also for keys due again at once (a lifetime shorter than REFRESH_BEFORE) and for
            # forced runs: one burst, one refresh.
            return (
                f"another invocation refreshed this key at {rfc3339(last.at)}; a burst of runs "
                "refreshes once"
            )
        return None

    def _store_refreshed(
        self,
        secret: str,
        current: Healthy,
        refreshed: RefreshedKey,
        reason: str,
        result: SecretResult,
    ) -> Healthy:
        """Step 5: persist first; only then check what was written and report it."""
        redact.register(
            (
                refreshed.jwt,
                refreshed.refresh_token,
                encode_v1_key(refreshed.endpoint, refreshed.jwt),
            )
        )
        payload = render_refreshed(current.document, refreshed)
        redact.register((payload.decode("utf-8"),))
        new_version = self._persist(secret, payload, result)
        # The new key is safe from here on: whatever fails next must say where it is.
        result.action, result.version, result.reason = REFRESHED, new_version, reason
        result.valid_until = epoch_to_rfc3339(refreshed.valid_until)
        if not refreshed.refresh_token:
            raise RotationError(
                "Momento returned the new key without a refresh token. The key is stored as "
                f"{new_version} and works until its expiry{_until(result.valid_until)}, but it "
                "cannot be refreshed again: before then, create a new key in the Momento console "
                "and add it as a new version",
                code="refresh_token_missing",
            )
        try:
            document = parse_document(payload)
        except RotationError as error:
            raise RotationError(
                f"the refreshed key is stored as {new_version}, but that document cannot be "
                f"read back ({error.message}); check the version, and report this",
                code="stored_document_unreadable",
            ) from None
        return Healthy(StoredVersion(new_version, version_number(new_version), payload), document)

    def _read(self, secret: str, result: SecretResult) -> Healthy:
        """Step 1: the latest version, parsed. Any failure here also means: do not sweep."""
        try:
            version = self._store.read_latest(secret)
        except SecretStoreError as error:
            if error.code == "failed_precondition":
                error.message = (
                    f"the latest version of {secret} is disabled or destroyed, so consumers "
                    "reading 'latest' get nothing; enable the version with the working key, or "
                    "add a new version with the token document"
                )
                error.code = "latest_version_not_enabled"
            raise
        result.version = version.name
        try:
            document = parse_document(version.data)
        except RotationError as error:
            error.message = f"{version.name} is not a usable token document: {error.message}"
            raise
        redact.register((*document.secret_values, version.data.decode("utf-8", "replace")))
        result.valid_until = epoch_to_rfc3339(document.valid_until)
        return Healthy(version, document)

    def _persist(self, secret: str, payload: bytes, result: SecretResult) -> str:
        """Step 5: store the refreshed document, retrying transient errors up to the deadline."""
        try:
            return self._store.add_version(secret, payload)
        except SecretStoreError as error:
            raise KeyNotStoredError(
                "Momento refreshed the key, but Secret Manager did not store it "
                f"({error.code}: {error.message}). The previous refresh token is now spent and "
                "the new key was not saved. The previous key keeps working until its own expiry"
                f"{_until(result.valid_until)}: before then, create a new key in the Momento "
                "console and add it as a new version of this secret (deploy.sh --seed-from FILE)"
            ) from None

    def _verify_then_sweep(self, secret: str, stored: Healthy, result: SecretResult) -> None:
        """Step 6: prove the new key authenticates before any older version is disabled."""
        verification = self._refresher().verify(stored.document.key)
        if verification is Verification.REJECTED:
            raise RotationError(
                f"the refreshed key stored as {stored.version.name} was rejected by Momento; "
                "older versions were left enabled, but consumers reading 'latest' get the "
                "rejected key. Add the previous version's payload again as a new version (it "
                "becomes 'latest'), and create a new key in the Momento console",
                code="new_key_rejected",
            )
        if verification is Verification.UNKNOWN:
            result.reason += (
                "; the new key could not be verified (Momento unavailable), so the retention "
                "sweep is postponed to the next run"
            )
            return
        self._sweep(secret, stored, result, dry_run=False)

    def _sweep(self, secret: str, latest: Healthy, result: SecretResult, *, dry_run: bool) -> None:
        """Step 7: disable versions superseded for longer than the retention window."""
        enabled = self._store.list_enabled(secret)
        doomed = plan_disable(
            enabled,
            latest_number=latest.version.number,
            now=self._clock(),
            retention=self._config.retention,
            min_enabled=self._config.min_enabled_versions,
        )
        if dry_run:
            result.disabled_versions = [version.name for version in doomed]
            if doomed:
                result.reason += f"; dry run: would disable {len(doomed)} superseded version(s)"
            return
        failures: list[SecretStoreError] = []
        for version in doomed:
            try:
                self._store.disable(version)
            except SecretStoreError as error:
                if error.code == "conflict":
                    # Changed since we listed it: a concurrent sweep got there first.
                    continue
                # Keep going: the next run retries what is left; the rest need not wait.
                failures.append(error)
                continue
            result.disabled_versions.append(version.name)
        if failures:
            raise SecretStoreError(
                f"the retention sweep disabled {len(result.disabled_versions)} of {len(doomed)} "
                f"versions; {failures[0].message}. The next run finishes the sweep",
                code=failures[0].code,
            )

    def _release(self, secret: str, held: lease.Lease, attempt: lease.LastAttempt | None) -> None:
        try:
            lease.release(self._store, secret, held, attempt)
        except SecretStoreError as error:
            logs.warning(
                "could not release the rotation lease; it expires by itself",
                secret=secret,
                error_code=error.code,
                lease_expires_at=rfc3339(held.expires_at),
            )


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
    last = outcome.last_attempt
    if last is not None and last.outcome is lease.Outcome.TIMED_OUT and last.version == number:
        return (
            f". A previous run's refresh of {current.version.name} at {rfc3339(last.at)} got no "
            "answer from Momento in time; Momento probably completed it and spent this refresh "
            "token"
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


def _until(valid_until: str | None) -> str:
    return f" ({valid_until})" if valid_until else ""


def _log_summary(result: SecretResult) -> None:
    severity = "INFO"
    if result.action == FAILED:
        severity = (
            "CRITICAL"
            if result.error and result.error["code"] == KeyNotStoredError.code
            else "ERROR"
        )
    logs.log(
        severity,
        f"{result.secret}: {result.action}: {result.reason}",
        event="rotation.result",
        secret=result.secret,
        action=result.action,
        version=result.version,
        valid_until=result.valid_until,
        disabled_versions=result.disabled_versions,
        error_code=result.error["code"] if result.error else None,
    )
