"""What one secret's rotation found, and the one :class:`SecretResult` built from it.

The steps in :mod:`rotation.service.rotate` return these findings; :func:`secret_result` turns
them into the result and :func:`log_summary` into its one log line, by the contract of outcomes
in :mod:`rotation.rules.outcomes`: where a run found several things, the worse wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from momento_key_common import redact
from momento_key_common.errors import ErrorCode, KeyNotStoredError, RotationError
from momento_key_common.token import ApiKey, TokenDocument
from rotation.adapters import logs
from rotation.rules.durations import format_duration
from rotation.rules.outcomes import Action, Attention, SecretResult
from rotation.rules.policy import epoch_to_rfc3339, rfc3339, schedule_too_sparse
from rotation.rules.ports import StoredVersion
from rotation.rules.schedule import NextRun
from rotation.service.sweep import Sweep

# A key that expires sooner than this after a run is worth a WARNING whatever else happened:
# whoever is on call has minutes, not days.
EXPIRES_SOON = timedelta(hours=1)


@dataclass(frozen=True)
class Healthy:
    """The latest version, checked: parseable, unexpired. Only then may older versions go."""

    version: StoredVersion
    document: TokenDocument


@dataclass(frozen=True)
class UnderLease:
    """What steps 4 and 5 produced while holding the lease.

    ``latest`` is the healthy latest version afterwards (ours when we stored one and could read
    it back, or another run's that superseded ours); ``stored`` names the version our refresh
    wrote, if any, even when a later check failed (``error``), so that the result always says
    where the new key is.
    """

    reason: str
    latest: Healthy | None = None
    stored: str | None = None
    stored_expiry: int | None = None
    error: RotationError | None = None
    attention: Attention | None = None


@dataclass(frozen=True)
class Findings:
    """What the steps before the refresh found that the result must report whatever happens
    next: the secret's own expiry (a failure), a missing refresh token (a failure when the key
    is due, else an ERROR that keeps the answer 2xx), and when the next run comes (against
    which the latest key's lifetime is judged)."""

    expiring: RotationError | None = None
    attention: Attention | None = None
    next_run: NextRun | None = None


NOTHING_FOUND = Findings()


def secret_result(
    secret: str,
    now: datetime,
    *,
    reason: str = "",
    read: StoredVersion | None = None,
    latest: Healthy | None = None,
    under: UnderLease | None = None,
    sweep: Sweep | None = None,
    error: RotationError | None = None,
    findings: Findings = NOTHING_FOUND,
    busy: bool = False,
) -> SecretResult:
    """The one place a SecretResult is built, from what the steps returned.

    Where a run found several things, the worse wins (rotation.rules.outcomes): a failure over a
    warning, a key not stored over any other failure, a permanent failure over a transient one.
    """
    sweep = sweep or Sweep()
    version = read.name if read is not None else None
    key: ApiKey | None = None
    expiry = None
    if latest is not None:
        version, key = latest.version.name, latest.document.key
        expiry = latest.document.expires_at
    if under is not None and under.latest is not None:
        version, key = under.latest.version.name, under.latest.document.key
        expiry = under.latest.document.expires_at
    if under is not None and under.stored is not None:
        version, expiry = under.stored, under.stored_expiry
    stored = under is not None and under.stored is not None
    failure = _worst(error, under.error if under else None, sweep.error, findings.expiring)
    notice = _worst_attention(
        findings.attention,
        under.attention if under else None,
        sweep.cut_short,
        None if failure else _too_sparse(secret, key, findings.next_run, now),
        None if failure else _expires_soon(expiry, now),
    )
    action = Action.FAILED if failure else Action.REFRESHED if stored else Action.SKIPPED
    reason = "; ".join(part for part in (reason, sweep.note) if part)
    upcoming = findings.next_run
    return SecretResult(
        secret=secret,
        action=action,
        reason=reason,
        version=version,
        valid_until=epoch_to_rfc3339(expiry),
        seconds_left=None if expiry is None else max(int(expiry - now.timestamp()), 0),
        next_run=None if upcoming is None else rfc3339(upcoming.at),
        disabled_versions=sweep.disabled,
        kept_versions=sweep.kept,
        destroyed_versions=sweep.destroyed,
        destroy_scheduled_versions=sweep.destroy_scheduled,
        error_code=failure.code if failure else None,
        error_message=redact.scrub(failure.message) if failure else None,
        attention=notice,
        stored=stored,
        busy=busy,
    )


def _too_sparse(
    secret: str, key: ApiKey | None, upcoming: NextRun | None, now: datetime
) -> Attention | None:
    """An ERROR (2xx: a retry can't help) when even a fresh key of this one's lifetime would
    die before the next run could refresh it."""
    lifetime = None if key is None or key.lifetime is None else timedelta(seconds=key.lifetime)
    why = schedule_too_sparse(secret, lifetime, upcoming, now=now)
    return None if why is None else Attention(ErrorCode.SCHEDULE_TOO_SPARSE, why, "ERROR")


def _worst(*candidates: RotationError | None) -> RotationError | None:
    """The failure to report: a key not stored first, then permanent before transient."""

    def rank(error: RotationError) -> int:
        if isinstance(error, KeyNotStoredError):
            return 0
        return 2 if error.code.transient else 1

    return min((error for error in candidates if error is not None), key=rank, default=None)


def _worst_attention(*candidates: Attention | None) -> Attention | None:
    worst: Attention | None = None
    for candidate in candidates:
        if candidate is not None and candidate.worse_than(worst):
            worst = candidate
    return worst


def _expires_soon(expiry: int | None, now: datetime) -> Attention | None:
    if expiry is None:
        return None
    left = datetime.fromtimestamp(expiry, UTC) - now
    if left >= EXPIRES_SOON:
        return None
    return Attention(
        ErrorCode.KEY_EXPIRES_SOON,
        f"the latest key expires at {epoch_to_rfc3339(expiry)}, in less than "
        f"{format_duration(EXPIRES_SOON)}: check that the next run comes before then, or that "
        "keys of this lifetime are what you meant to issue",
    )


def log_summary(result: SecretResult) -> None:
    """The one line per secret and run; its severity is what the alerts count."""
    parts = [result.error_message, result.attention.message if result.attention else None]
    summary = "; ".join(part for part in (*parts, result.reason) if part)
    logs.log(
        result.severity,
        f"{result.secret}: {result.action}: {summary}",
        event="rotation.result",
        secret=result.secret,
        action=str(result.action),
        version=result.version,
        valid_until=result.valid_until,
        # A number, for deploy.sh's key-lifetime metric (a log-based distribution by secret).
        seconds_left=result.seconds_left,
        next_run=result.next_run,
        disabled_versions=list(result.disabled_versions),
        kept_versions=[kept.version for kept in result.kept_versions],
        destroyed_versions=list(result.destroyed_versions),
        error_code=str(result.error_code) if result.error_code else None,
        attention_code=str(result.attention.code) if result.attention else None,
    )
