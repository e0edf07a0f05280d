"""Whether a stored key should be refreshed now. Pure: the clock is an argument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rotation.durations import format_duration
from rotation.errors import ErrorCode, NotRefreshableError
from rotation.token import MAX_EPOCH_SECONDS, TokenDocument


@dataclass(frozen=True)
class Decision:
    """Whether to refresh a key, and why."""

    refresh: bool
    reason: str


def decide(
    document: TokenDocument, *, now: datetime, refresh_before: timedelta, force: bool
) -> Decision:
    """Refresh when the key expires within ``refresh_before`` (or when forced).

    The expiry is the key's own ``exp`` when it has one (:attr:`TokenDocument.expires_at`), not
    the document's ``validUntil``, which is only a copy.

    Raises NotRefreshableError for an expired key, which Momento refuses to refresh. (v2 keys,
    which Momento cannot refresh at all, never get this far: parse_document refuses them.)
    """
    if document.expires_at is None:
        return Decision(refresh=False, reason="the key never expires")
    expires_at = datetime.fromtimestamp(document.expires_at, UTC)
    if expires_at <= now:
        raise NotRefreshableError(
            f"the key expired at {rfc3339(expires_at)}, and Momento refuses to refresh an expired "
            "key; create a new key in the Momento console and add it as a new version "
            "(deploy.sh --seed-from FILE)",
            code=ErrorCode.KEY_EXPIRED,
        )
    remaining = expires_at - now
    window = format_duration(refresh_before)
    if force:
        return Decision(refresh=True, reason=f"forced; the key expires at {rfc3339(expires_at)}")
    if remaining > refresh_before:
        return Decision(
            refresh=False,
            reason=f"the key expires at {rfc3339(expires_at)}, more than {window} from now",
        )
    return Decision(
        refresh=True, reason=f"the key expires at {rfc3339(expires_at)}, within {window}"
    )


def rfc3339(moment: datetime) -> str:
    """UTC, second precision, with a Z: what Cloud Logging and people both read easily."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_to_rfc3339(seconds: int | None) -> str | None:
    """For display: None when there is no expiry or it is beyond what a datetime can show."""
    if seconds is None or not 0 <= seconds <= MAX_EPOCH_SECONDS:
        return None
    return rfc3339(datetime.fromtimestamp(seconds, UTC))
