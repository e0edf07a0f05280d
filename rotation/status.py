"""What an operator wants to know about a managed secret, without changing anything.

``python -m rotation status`` prints one of these per secret: the latest version and when its
key really expires (its JWT ``exp``), whether the next run would refresh it, when the secret
itself expires (its ``expire_time``), the enabled versions and which of them the next sweep would
disable (or keep, for an alias), and the lease: a live one held by a run, or the record the last
refresh left. ``error`` is what the next run would fail with. Three reads per secret (one access,
one list, one get), no writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rotation import lease
from rotation.config import Config
from rotation.errors import RotationError
from rotation.policy import decide, epoch_to_rfc3339, rfc3339, secret_expiring
from rotation.ports import SecretStore
from rotation.retention import VersionInfo, plan_disable
from rotation.token import parse_document


@dataclass(frozen=True)
class SecretStatus:
    secret: str
    latest_version: str | None = None
    valid_until: str | None = None
    due: bool | None = None
    reason: str = ""
    secret_expire_time: str | None = None  # when Secret Manager deletes the whole secret
    refreshable: bool | None = None  # whether the latest version holds a refresh token
    enabled_versions: tuple[str, ...] = ()
    next_sweep_disables: tuple[str, ...] = ()
    kept_versions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    lease: dict[str, Any] | None = None
    error: RotationError | None = None

    def to_json(self) -> dict[str, Any]:
        """The documented, stable form of ``status --json``."""
        return {
            "secret": self.secret,
            "latest_version": self.latest_version,
            "valid_until": self.valid_until,
            "due": self.due,
            "reason": self.reason,
            "secret_expire_time": self.secret_expire_time,
            "refreshable": self.refreshable,
            "enabled_versions": list(self.enabled_versions),
            "next_sweep_disables": list(self.next_sweep_disables),
            "kept_versions": [
                {"version": version, "aliases": list(aliases)}
                for version, aliases in self.kept_versions
            ],
            "lease": self.lease,
            "error": (
                None
                if self.error is None
                else {"code": str(self.error.code), "message": self.error.message}
            ),
        }


def secret_status(
    config: Config, store: SecretStore, secret: str, *, now: datetime
) -> SecretStatus:
    """Read ``secret`` and say what the next run would do with it."""
    try:
        latest = store.read_latest(secret)
        enabled = store.list_enabled(secret)
        metadata = store.get_metadata(secret)
    except RotationError as error:
        return SecretStatus(secret, error=error)
    held = lease.recorded(metadata.annotations)
    lease_json = None if held is None else _lease_json(held, latest.number, now)
    expire_time = metadata.expire_time
    expires = None if expire_time is None else rfc3339(expire_time)
    try:
        document = parse_document(latest.data)
        decision = decide(document, now=now, refresh_before=config.refresh_before, force=False)
    except RotationError as error:
        # Broken or expired: the run fails it, and sweeps nothing.
        return SecretStatus(
            secret,
            latest_version=latest.name,
            secret_expire_time=expires,
            enabled_versions=_newest_first(enabled),
            lease=lease_json,
            error=error,
        )
    expiring = secret_expiring(secret, expire_time, now=now, refresh_before=config.refresh_before)
    plan = plan_disable(
        enabled,
        latest_number=latest.number,
        now=now,
        retention=config.retention,
        min_enabled=config.min_enabled_versions,
        aliases=metadata.version_aliases,
    )
    return SecretStatus(
        secret,
        latest_version=latest.name,
        valid_until=epoch_to_rfc3339(document.expires_at),
        due=decision.refresh,
        reason=decision.reason,
        secret_expire_time=expires,
        refreshable=bool(document.refresh_token),
        enabled_versions=_newest_first(enabled),
        next_sweep_disables=tuple(v.name for v in plan.disable),
        kept_versions=tuple((v.name, aliases) for v, aliases in plan.kept_for_aliases),
        lease=lease_json,
        error=expiring,
    )


def _newest_first(versions: list[VersionInfo]) -> tuple[str, ...]:
    return tuple(v.name for v in sorted(versions, key=lambda v: -v.number))


def _lease_json(held: lease.Lease, latest: int, now: datetime) -> dict[str, Any]:
    return {
        "state": lease.state(held, latest_version=latest, now=now),
        "base_version": held.base_version,
        "taken_at": rfc3339(held.taken_at),
        "expires_at": rfc3339(held.expires_at),
        "released_at": None if held.released_at is None else rfc3339(held.released_at),
        "timed_out_at": None if held.timed_out_at is None else rfc3339(held.timed_out_at),
        "unstored_at": None if held.unstored_at is None else rfc3339(held.unstored_at),
    }


def describe(status: SecretStatus) -> str:
    """The human form of ``status`` (without ``--json``): one labelled line per fact."""
    lines = [status.secret]
    if status.latest_version:
        expiry = f", key expires {status.valid_until}" if status.valid_until else ""
        lines.append(f"  latest      {status.latest_version}{expiry}")
    if status.due is not None:
        lines.append(f"  next run    {'refreshes' if status.due else 'skips'}: {status.reason}")
    if status.refreshable is False:
        lines.append("  refresh     impossible: the latest version holds no refresh token")
    if status.secret_expire_time:
        lines.append(f"  secret      expires {status.secret_expire_time} (deleted then)")
    if status.error is not None:
        lines.append(f"  error       {status.error.code}: {status.error.message}")
    if status.enabled_versions:
        lines.append(f"  enabled     {', '.join(_number(v) for v in status.enabled_versions)}")
    if status.due is not None:
        doomed = ", ".join(_number(v) for v in status.next_sweep_disables) or "nothing"
        lines.append(f"  next sweep  disables {doomed}")
    for version, aliases in status.kept_versions:
        lines.append(f"  kept        {_number(version)} (alias {', '.join(aliases)})")
    if status.lease is not None:
        lease_line = (
            f"{status.lease['state']} (version {status.lease['base_version']}, taken "
            f"{status.lease['taken_at']}, expires {status.lease['expires_at']})"
        )
        lines.append(f"  lease       {lease_line}")
    return "\n".join(lines)


def _number(version: str) -> str:
    return version.rsplit("/", 1)[-1]
