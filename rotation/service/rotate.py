"""The rotation of one secret, as explicit steps.

1. **read**    the latest version and parse it as a token document, then the secret itself
               (one GetSecret: its expiry, aliases and the lease);
2. **decide**  whether the key needs refreshing, on the key's own expiry (pure,
               :mod:`rotation.rules.policy`), and whether the secret itself expires first;
3. **lease**   the secret, so that concurrent runs refresh it once (:mod:`rotation.service.lease`);
4. **refresh** the key through Momento;
5. **persist** the new document as a new version, at once: the refresh token is single-use,
               so until this lands the only copy of a working key is in this process;
6. **verify**  the stored key authenticates, before anything older is touched;
7. **sweep**   versions superseded for longer than the retention window, except any a version
               alias names, paced by the write budget and within a time budget: housekeeping,
               which the next run continues when it is cut short.

Each step returns what it found; :mod:`rotation.service.result` turns that into the one
:class:`SecretResult` and its log line, by the contract of outcomes in
:mod:`rotation.rules.outcomes`. Each step also looks at the state first, so running again after
any failure is safe. Nothing here catches an error to pretend success, and nothing fails that is
fine: a refresh that does not extend the key is a failure, a sweep cut short is a warning.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from momento_key_common import redact
from momento_key_common.errors import (
    ErrorCode,
    KeyNotStoredError,
    MomentoAuthenticationError,
    MomentoError,
    MomentoTimeoutError,
    RotationError,
    SecretStoreError,
)
from momento_key_common.token import (
    RefreshedKey,
    TokenDocument,
    check_rewritable,
    encode_v1_key,
    parse_document,
    render_refreshed,
)
from rotation.adapters import logs
from rotation.adapters.pacing import Pacer
from rotation.rules.config import Config
from rotation.rules.durations import format_duration
from rotation.rules.outcomes import Action, Attention, KeptVersion, SecretResult
from rotation.rules.policy import (
    Decision,
    decide,
    epoch_to_rfc3339,
    rfc3339,
    secret_expiring,
)
from rotation.rules.ports import (
    KeyRefresher,
    SecretMetadata,
    SecretStore,
    StoredVersion,
    Verification,
    version_number,
)
from rotation.rules.schedule import NextRun, next_run
from rotation.service.result import (
    Findings,
    Healthy,
    UnderLease,
    log_summary,
    secret_result,
)
from rotation.service.sweep import SWEEP_BUDGET, Sweep, Sweeper

if TYPE_CHECKING:
    # Imported where used: a run with nothing to refresh (the daily case) never needs them,
    # and every module a cold start imports costs it (see devtools/bench.py).
    from rotation.service import lease

# Where secret names come from when the caller does not say.
DEFAULT_ORIGIN = "ROTATION_SECRETS"

__all__ = ["Action", "KeptVersion", "Rotator", "SecretResult"]


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
        self._sweeper = Sweeper(config, store, clock, sweep_budget)
        self._pacer = pacer

    def rotate(
        self, secret: str, *, force: bool, dry_run: bool, named_in: str = DEFAULT_ORIGIN
    ) -> SecretResult:
        """Rotate ``secret``; ``named_in`` says where its name came from, for the advice when
        it does not exist (ROTATION_SECRETS, a request field, a command-line argument...)."""
        try:
            result = self._rotate(secret, force=force, dry_run=dry_run, named_in=named_in)
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
        log_summary(result)
        return result

    def _rotate(self, secret: str, *, force: bool, dry_run: bool, named_in: str) -> SecretResult:
        now = self._clock()
        try:
            read = self._read(secret, named_in)
        except RotationError as error:
            return secret_result(secret, now, error=error)
        try:
            current = Healthy(read, _parse(read))
            # After the latest version, never before: the lease relies on that order.
            metadata = self._store.get_metadata(secret)
            upcoming = next_run(self._config.schedule, metadata.next_rotation_time, now=now)
            decision = self._decide(current.document, force=force, upcoming=upcoming)
            findings = self._findings(secret, current, metadata, decision.refresh, upcoming)
            if decision.refresh and dry_run:
                check_rewritable(current.document)
        except RotationError as error:
            # A latest version that can't be read or refreshed is no reason to sweep older ones.
            return secret_result(secret, now, error=error, read=read)
        reason = _with_expiry_note(decision.reason, current.document)
        if decision.refresh and not dry_run:
            return self._refresh(secret, current, metadata, reason, findings)
        if decision.refresh:
            reason = f"dry run: would refresh, {reason}"
        sweep = self._sweep(secret, current, metadata.version_aliases, dry_run=dry_run)
        return secret_result(
            secret, now, reason=reason, latest=current, sweep=sweep, findings=findings
        )

    def _findings(
        self,
        secret: str,
        current: Healthy,
        metadata: SecretMetadata,
        due: bool,
        upcoming: NextRun | None,
    ) -> Findings:
        """Step 2's other half: what makes this key unsafe whatever the refresh does.

        Raises refresh_token_missing when the key is due (or forced) and cannot be refreshed.
        """
        expiring = secret_expiring(
            secret,
            metadata.expire_time,
            now=self._clock(),
            refresh_before=self._config.refresh_before,
        )
        if current.document.refresh_token:
            return Findings(expiring, next_run=upcoming)
        missing = _no_refresh_token(current)
        if due:
            raise RotationError(missing, code=ErrorCode.REFRESH_TOKEN_MISSING)
        attention = Attention(ErrorCode.REFRESH_TOKEN_MISSING, missing, "ERROR")
        return Findings(expiring, attention, upcoming)

    def _refresh(
        self,
        secret: str,
        current: Healthy,
        metadata: SecretMetadata,
        reason: str,
        findings: Findings,
    ) -> SecretResult:
        """Steps 3 to 7, for a key that is due (or forced)."""
        from rotation.service import lease  # noqa: PLC0415 - only refreshes take the lease

        now = self._clock()
        under: UnderLease | None = None
        # The lease's write and the new version's are reserved in the budget together, before
        # the lease: once Momento has spent the refresh token, the add never waits for budget.
        with self._pacer.refresh_writes(secret) if self._pacer else contextlib.nullcontext():
            try:
                outcome = lease.try_acquire(
                    self._store,
                    secret,
                    metadata=metadata,
                    base_version=current.version.number,
                    now=now,
                    duration=self._config.lease_duration,
                )
            except RotationError as error:
                return secret_result(secret, now, latest=current, error=error, findings=findings)
            if outcome.acquired is not None:
                under = self._under_lease(secret, current, outcome, reason)
        aliases = metadata.version_aliases
        if outcome.refreshed_at is not None:
            # Also for keys due again at once (a lifetime shorter than REFRESH_BEFORE) and for
            # forced runs: one burst, one refresh.
            lease_duration = self._config.lease_duration
            burst = (
                f"another invocation refreshed this key at {rfc3339(outcome.refreshed_at)} and "
                f"stored {current.version.name}, less than LEASE_DURATION "
                f"({format_duration(lease_duration)}) ago; a burst of runs refreshes once, even "
                "forced ones (if that run reported a failure, its result says what to do); "
                f"force again after {rfc3339(outcome.refreshed_at + lease_duration)}"
            )
            sweep = self._sweep(secret, current, aliases, dry_run=False)
            return secret_result(
                secret, now, reason=burst, latest=current, sweep=sweep, findings=findings
            )
        if under is None:
            return secret_result(
                secret,
                now,
                reason=_lease_held_reason(outcome.held_by),
                latest=current,
                busy=True,
                findings=findings,
            )
        # Verification and the sweep run after the new version superseded the lease: they
        # change nothing that a concurrent run could duplicate.
        if under.error is not None or under.latest is None or under.stored is None:
            return secret_result(
                secret, now, reason=under.reason, under=under, latest=current, findings=findings
            )
        try:
            sweep = self._verify_then_sweep(secret, under.latest, aliases)
        except RotationError as error:
            return secret_result(
                secret, now, reason=under.reason, under=under, error=error, findings=findings
            )
        return secret_result(
            secret, now, reason=under.reason, under=under, sweep=sweep, findings=findings
        )

    def _decide(
        self, document: TokenDocument, *, force: bool, upcoming: NextRun | None
    ) -> Decision:
        return decide(
            document,
            now=self._clock(),
            refresh_before=self._config.refresh_before,
            force=force,
            next_run=upcoming,
        )

    def _under_lease(
        self, secret: str, current: Healthy, outcome: lease.LeaseOutcome, reason: str
    ) -> UnderLease:
        """Steps 4 and 5, holding the lease.

        A stored version supersedes the lease, which then stays as the record of this refresh;
        only a holder that stored nothing writes the lease again, to release it at once.
        """
        result: UnderLease | None = None
        timed_out = unstored = False
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
            result = self._store_refreshed(secret, current, refreshed, reason)
        except MomentoAuthenticationError as error:
            result = self._superseded_meanwhile(secret, current)
            if result is None:
                return UnderLease("", error=_explain_momento_error(error, outcome, current))
            return result
        except MomentoError as error:
            return UnderLease("", error=_explain_momento_error(error, outcome, current))
        except KeyNotStoredError as error:
            unstored = True  # the refresh token is spent: the next run's refusal says why
            return UnderLease("", error=error)
        except RotationError as error:
            return UnderLease("", error=error)
        else:
            return result
        finally:
            if result is None or (result.stored is None and result.latest is None):
                self._release(secret, outcome, timed_out=timed_out, unstored=unstored)

    def _superseded_meanwhile(self, secret: str, current: Healthy) -> UnderLease | None:
        """After Momento refused the refresh token: did another runner store a newer key?

        A runner whose lease we could not see (another deployment, a clock far off) may have
        refreshed with the same token first. Then the key is safe, and this run skips.
        """
        try:
            latest = self._store.read_latest(secret)
            document = _parse(latest)
        except RotationError:
            return None
        if latest.number <= current.version.number:
            return None
        reason = (
            f"{latest.name} was stored by another run while this one refreshed "
            f"{current.version.name}; Momento refused this run's refresh token, which that run "
            "had used, so there is nothing to do"
        )
        return UnderLease(reason, latest=Healthy(latest, document))

    def _store_refreshed(
        self, secret: str, current: Healthy, refreshed: RefreshedKey, reason: str
    ) -> UnderLease:
        """Step 5: persist first; only then check what was written.

        An answer whose key does not outlive the current one is a failure. It is stored only
        when it carries a new refresh token: Momento spent the old one, and the new one is then
        the only way left to refresh.
        """
        try:
            redact.register(
                (
                    refreshed.jwt,
                    refreshed.refresh_token,
                    encode_v1_key(refreshed.endpoint, refreshed.jwt),
                )
            )
            not_extended = _not_extended(current, refreshed)
            payload = render_refreshed(current.document, refreshed)
        except Exception as error:  # noqa: BLE001 - Momento spent the token: this must be loud
            _log_internal_error(secret, error)
            raise KeyNotStoredError(
                f"Momento refreshed the key, but an unexpected internal error "
                f"({type(error).__name__}) stopped it from being stored. The previous refresh "
                "token is now spent. The previous key keeps working until its own expiry"
                f"{_until(current.document.expires_at)}: before then, create a new key in the "
                "Momento console and add it as a new version; and report this"
            ) from None
        new_token = bool(refreshed.refresh_token) and (
            refreshed.refresh_token != current.document.refresh_token
        )
        if not_extended is not None and not new_token:
            raise RotationError(
                f"{not_extended}; nothing was stored, and {current.version.name} stays the latest",
                code=ErrorCode.KEY_NOT_EXTENDED,
            )
        redact.register((payload.decode("utf-8"),))
        new_version = self._persist(secret, payload, current)
        # The new key is safe from here on: whatever fails next must say where it is.
        stored = UnderLease(reason, stored=new_version, stored_expiry=refreshed.expires_at)
        if not_extended is not None:
            failure = RotationError(
                f"{not_extended}; its new refresh token is stored as {new_version} (Momento "
                "spent the old one), so the next run can try again",
                code=ErrorCode.KEY_NOT_EXTENDED,
            )
            return replace(stored, error=failure)
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
        stored = replace(stored, latest=latest)
        if not refreshed.refresh_token:
            missing = Attention(
                ErrorCode.REFRESH_TOKEN_MISSING,
                "Momento returned the new key without a refresh token. The key is stored as "
                f"{new_version} and works until its expiry{_until(refreshed.expires_at)}, but "
                "it cannot be refreshed again: before then, create a new key in the Momento "
                "console and add it as a new version (python -m rotation seed)",
                "ERROR",
            )
            return replace(stored, attention=missing)
        return stored

    def _read(self, secret: str, named_in: str) -> StoredVersion:
        """Step 1: the latest version. Any failure here also means: do not sweep."""
        try:
            return self._store.read_latest(secret)
        except SecretStoreError as error:
            if error.code is ErrorCode.PERMISSION_DENIED:
                raise SecretStoreError(
                    f"{error.message}. {secret} is named in {named_in}", code=error.code
                ) from None
            if error.code is not ErrorCode.NOT_FOUND:
                raise
            raise self._missing(secret, named_in) from None

    def _missing(self, secret: str, named_in: str) -> SecretStoreError:
        """The latest version was NOT_FOUND: is the secret gone, or only its versions?"""
        try:
            self._store.get_metadata(secret)
        except SecretStoreError as error:
            if error.code is not ErrorCode.NOT_FOUND:
                raise
            return SecretStoreError(
                f"{secret} does not exist: it was deleted (by hand, or by its own expiration), "
                f"or never created. It is named in {named_in}. To keep rotating it, recreate it "
                "with a key from the Momento console (deploy.sh --seed-from FILE creates it); "
                f"otherwise remove it from {named_in}",
                code=ErrorCode.NOT_FOUND,
            )
        return SecretStoreError(
            f"{secret} has no versions, so there is no key to rotate; add the JSON Momento's "
            "console downloads as its first version (python -m rotation seed --from FILE)",
            code=ErrorCode.NOT_FOUND,
        )

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
        return self._sweep(secret, stored, aliases, dry_run=False)

    def _sweep(
        self, secret: str, latest: Healthy, aliases: Mapping[str, int], *, dry_run: bool
    ) -> Sweep:
        """Step 7 (rotation.service.sweep): housekeeping, once the latest version is known
        healthy."""
        return self._sweeper.sweep(secret, latest.version.number, aliases, dry_run=dry_run)

    def _release(
        self, secret: str, outcome: lease.LeaseOutcome, *, timed_out: bool, unstored: bool
    ) -> None:
        from rotation.service import lease  # noqa: PLC0415 - only refreshes take the lease

        try:
            lease.release(
                self._store,
                secret,
                outcome,
                now=self._clock(),
                timed_out=timed_out,
                unstored=unstored,
            )
        except SecretStoreError as error:
            expires_at = outcome.acquired.expires_at if outcome.acquired else None
            logs.warning(
                "could not release the rotation lease; it expires by itself",
                secret=secret,
                error_code=str(error.code),
                lease_expires_at=rfc3339(expires_at) if expires_at else None,
            )


def _parse(version: StoredVersion) -> TokenDocument:
    try:
        document = parse_document(version.data)
    except RotationError as error:
        raise type(error)(
            f"{version.name} is not a usable token document: {error.message}",
            code=error.code,
        ) from None
    redact.register((*document.secret_values, version.data.decode("utf-8", "replace")))
    return document


def _no_refresh_token(current: Healthy) -> str:
    return (
        f"{current.version.name} holds no refresh token (Momento returned none at the last "
        "refresh, or the document was stored without one): its key works until its expiry"
        f"{_until(current.document.expires_at)}, but cannot be refreshed. Before then, create a "
        "new key in the Momento console and add it as a new version (python -m rotation seed "
        "--from FILE)"
    )


def _not_extended(current: Healthy, refreshed: RefreshedKey) -> str | None:
    """Why Momento's answer does not make the key live longer; None when it does."""
    old, new = current.document.expires_at, refreshed.expires_at
    if old is None or new is None or new > old:
        return None
    same = refreshed.jwt == current.document.key.jwt
    what = "the key it already has" if same else "a key"
    return (
        f"Momento answered the refresh of {current.version.name} with {what} expiring at "
        f"{epoch_to_rfc3339(new)}, not later than the current key ({epoch_to_rfc3339(old)}). "
        "Check that the refresh token belongs to this key and that the Momento account is "
        "active; if the next run gets the same answer, create a new key in the Momento console "
        f"before {epoch_to_rfc3339(old)}"
    )


def _with_expiry_note(reason: str, document: TokenDocument) -> str:
    disagreement = document.expiry_disagreement
    return f"{reason}; {disagreement}" if disagreement else reason


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
    if outcome.unstored_at is not None:
        return (
            f". A previous run refreshed {current.version.name} at "
            f"{rfc3339(outcome.unstored_at)} but Secret Manager did not store the new key "
            "(refreshed_not_stored), which spent this refresh token"
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
    from rotation.service import lease  # noqa: PLC0415 - only refreshes take the lease

    return (
        f"another invocation holds the rotation lease (taken {rfc3339(held.taken_at)}) and is "
        f"refreshing; if that run died, the first run after {rfc3339(lease.takeover_at(held))} "
        "takes over and reports what happened"
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
