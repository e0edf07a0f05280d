"""Whether a stored key should be refreshed now. Pure: the clock is an argument."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from momento_key_common.errors import ErrorCode, KeyExpiredError, RotationError
from momento_key_common.token import MAX_EPOCH_SECONDS, TokenDocument
from rotation.rules.durations import format_duration
from rotation.rules.schedule import RETRY_MARGIN

if TYPE_CHECKING:
    from rotation.rules.config import Config
    from rotation.rules.schedule import NextRun

# A refresh writes twice: the lease, and the new version (rotation.adapters.pacing.REFRESH_WRITES).
WRITES_PER_REFRESH = 2


@dataclass(frozen=True)
class Decision:
    """Whether to refresh a key, and why."""

    refresh: bool
    reason: str


def decide(
    document: TokenDocument,
    *,
    now: datetime,
    refresh_before: timedelta,
    force: bool,
    next_run: NextRun | None = None,
) -> Decision:
    """Refresh when the key expires within ``refresh_before``, or before the next run and its
    retries could refresh it (whatever ``refresh_before`` says), or when forced.

    The expiry is the key's own ``exp`` when it has one (:attr:`TokenDocument.expires_at`), not
    the document's ``validUntil``, which is only a copy.

    Raises NotRefreshableError for an expired key, which Momento refuses to refresh. (v2 keys,
    which Momento cannot refresh at all, never get this far: parse_document refuses them.)
    """
    if document.expires_at is None:
        return Decision(refresh=False, reason="the key never expires")
    expires_at = datetime.fromtimestamp(document.expires_at, UTC)
    if expires_at <= now:
        raise KeyExpiredError(
            f"the key expired at {rfc3339(expires_at)}, and Momento refuses to refresh an expired "
            "key; create a new key in the Momento console and add it as a new version "
            "(deploy.sh --seed-from FILE)"
        )
    remaining = expires_at - now
    window = format_duration(refresh_before)
    if force:
        return Decision(refresh=True, reason=f"forced; the key expires at {rfc3339(expires_at)}")
    if remaining <= refresh_before:
        return Decision(
            refresh=True, reason=f"the key expires at {rfc3339(expires_at)}, within {window}"
        )
    if next_run is not None and expires_at <= next_run.deadline:
        return Decision(
            refresh=True,
            reason=f"the key expires at {rfc3339(expires_at)}, before the next run could "
            f"refresh it: {next_run.source} comes at {rfc3339(next_run.at)}, and its retries may "
            f"take {format_duration(RETRY_MARGIN)} more (REFRESH_BEFORE is {window})",
        )
    return Decision(
        refresh=False,
        reason=f"the key expires at {rfc3339(expires_at)}, more than {window} from now",
    )


def schedule_too_sparse(
    secret: str, lifetime: timedelta | None, next_run: NextRun | None, *, now: datetime
) -> str | None:
    """Why the schedule can't keep a key of ``lifetime`` alive; None when it can, or when
    either is unknown. A fresh key must outlive the wait for the next run and its retries."""
    if lifetime is None or next_run is None:
        return None
    needed = next_run.needed_lifetime(now)
    if lifetime > needed:
        return None
    return (
        f"{secret}'s keys live {format_duration(lifetime)}, but the next run ({next_run.source}, "
        f"at {rfc3339(next_run.at)}) may not refresh one until {format_duration(needed)} after "
        f"the last (runs apart plus {format_duration(RETRY_MARGIN)} for retries): a key can "
        "die between two runs. Run more often (a shorter --schedule or --rotation-period), or "
        "issue keys that live longer than that"
    )


def secret_expiring(
    secret: str, expire_time: datetime | None, *, now: datetime, refresh_before: timedelta
) -> RotationError | None:
    """A failure when Secret Manager deletes the secret itself within ``refresh_before``: the
    key will not outlive its secret, whatever a run does. None otherwise."""
    if expire_time is None or expire_time - now > refresh_before:
        return None
    return RotationError(
        f"{secret} itself expires at {rfc3339(expire_time)} (its expire_time, set by a TTL or "
        f"an expiration date), within REFRESH_BEFORE ({format_duration(refresh_before)}): "
        "Secret Manager then deletes it with every version, and consumers lose the key. "
        "Remove the expiration (gcloud secrets update SECRET --remove-expiration), or move the "
        "key to a secret without one",
        code=ErrorCode.SECRET_EXPIRING,
    )


def least_time_for_refreshes(secrets: int, writes_per_minute: int) -> timedelta:
    """The least time the refreshes of ``secrets`` due secrets take under the write budget.

    The budget is a sliding 60 s window (rotation.adapters.pacing): a full budget may go at once,
    then one more budget each minute.
    """
    writes = WRITES_PER_REFRESH * secrets
    return timedelta(minutes=max(math.ceil(writes / writes_per_minute) - 1, 0))


def budget_warning(config: Config, secrets: int) -> str | None:
    """What to say when the write budget can't refresh ``secrets`` secrets within the
    function's timeout; None when it can, or when the timeout is unknown."""
    timeout = config.function_timeout
    if timeout is None:
        return None
    needed = least_time_for_refreshes(secrets, config.writes_per_minute)
    if needed < timeout:
        return None
    return (
        f"if all {secrets} secrets were due, their {WRITES_PER_REFRESH * secrets} writes would "
        f"need at least {format_duration(needed)} at SECRET_MANAGER_WRITES_PER_MINUTE="
        f"{config.writes_per_minute}, longer than the function's timeout "
        f"(FUNCTION_TIMEOUT={format_duration(timeout)}): the last would be cut off. Raise the "
        "budget if the project has room, or split the secrets between deployments"
    )


def rfc3339(moment: datetime) -> str:
    """UTC, second precision, with a Z: what Cloud Logging and people both read easily."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_to_rfc3339(seconds: int | None) -> str | None:
    """For display: None when there is no expiry or it is beyond what a datetime can show."""
    if seconds is None or not 0 <= seconds <= MAX_EPOCH_SECONDS:
        return None
    return rfc3339(datetime.fromtimestamp(seconds, UTC))
