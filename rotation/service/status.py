"""What an operator wants to know about a managed secret, without changing anything.

``python -m rotation status`` prints one of these per secret: the latest version and when its
key really expires (its JWT ``exp``), whether the next run would refresh it, when the secret
itself expires (its ``expire_time``), the enabled versions and which of them the next sweep would
disable (or keep, for an alias), and the lease: a live one held by a run, or the record the last
refresh left. ``error`` is what the next run would fail with. Three reads per secret (one access,
one list, one get), no writes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from momento_key_common.errors import ErrorCode, RotationError
from momento_key_common.token import parse_document
from rotation.rules.config import Config
from rotation.rules.costs import PRICE_PER_VERSION_MONTH, PRICE_SOURCE, Cost
from rotation.rules.durations import format_duration
from rotation.rules.outcomes import Attention
from rotation.rules.policy import (
    decide,
    epoch_to_rfc3339,
    rfc3339,
    schedule_too_sparse,
    secret_expiring,
)
from rotation.rules.ports import SecretMetadata, SecretStore
from rotation.rules.retention import DestroyPlan, VersionInfo, billed, plan_destroy, plan_disable
from rotation.rules.schedule import NextRun, next_run
from rotation.service import Dependencies, lease
from rotation.service.discovery import managed_secrets


@dataclass(frozen=True)
class NextRunStatus:
    """When the next run comes, and whether the current key and a fresh one outlive it."""

    at: str | None  # None: unknown (no ROTATION_SCHEDULE, no rotation schedule on the secret)
    source: str
    key_outlives_it: bool | None = None
    fresh_key_outlives_it: bool | None = None  # None: the key's lifetime is unknown (no iat)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "source": self.source,
            "key_outlives_it": self.key_outlives_it,
            "fresh_key_outlives_it": self.fresh_key_outlives_it,
        }


UNKNOWN_NEXT_RUN = NextRunStatus(
    None,
    "unknown: set ROTATION_SCHEDULE to the Scheduler job's schedule (deploy.sh does), or give "
    "the secret a rotation schedule (deploy.sh --rotation-period)",
)


@dataclass(frozen=True)
class SecretStatus:
    secret: str
    latest_version: str | None = None
    valid_until: str | None = None
    due: bool | None = None
    reason: str = ""
    secret_expire_time: str | None = None  # when Secret Manager deletes the whole secret
    refreshable: bool | None = None  # whether the latest version holds a refresh token
    next_run: NextRunStatus | None = None
    # What needs a person though the run would not fail (the schedule can't keep keys alive).
    attention: Attention | None = None
    cost: CostStatus | None = None
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
            "next_run": None if self.next_run is None else self.next_run.to_json(),
            "cost": None if self.cost is None else self.cost.to_json(),
            "attention": (
                None
                if self.attention is None
                else {"code": str(self.attention.code), "message": self.attention.message}
            ),
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


def report(dependencies: Dependencies, *, now: datetime) -> list[SecretStatus]:
    """Every managed secret's status, in order: what ``python -m rotation status`` prints."""
    config, store = dependencies.config, dependencies.store
    return [
        secret_status(config, store, secret, now=now) for secret in managed_secrets(config, store)
    ]


def secret_status(
    config: Config, store: SecretStore, secret: str, *, now: datetime
) -> SecretStatus:
    """Read ``secret`` and say what the next run would do with it."""
    try:
        latest = store.read_latest(secret)
        versions = store.list_versions(secret)
        metadata = store.get_metadata(secret)
    except RotationError as error:
        return SecretStatus(secret, error=error)
    enabled = [version for version in versions if version.state == "ENABLED"]
    cost = _cost(config, versions, latest.number, metadata, now)
    held = lease.recorded(metadata.annotations)
    lease_json = None if held is None else _lease_json(held, latest.number, now)
    expire_time = metadata.expire_time
    expires = None if expire_time is None else rfc3339(expire_time)
    upcoming = next_run(config.schedule, metadata.next_rotation_time, now=now)
    try:
        document = parse_document(latest.data)
        decision = decide(
            document,
            now=now,
            refresh_before=config.refresh_before,
            force=False,
            next_run=upcoming,
        )
    except RotationError as error:
        # Broken or expired: the run fails it, and sweeps nothing.
        return SecretStatus(
            secret,
            latest_version=latest.name,
            secret_expire_time=expires,
            enabled_versions=_newest_first(enabled),
            lease=lease_json,
            cost=cost,
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
    lifetime = document.key.lifetime
    sparse = schedule_too_sparse(
        secret, None if lifetime is None else timedelta(seconds=lifetime), upcoming, now=now
    )
    return SecretStatus(
        secret,
        latest_version=latest.name,
        valid_until=epoch_to_rfc3339(document.expires_at),
        due=decision.refresh,
        reason=decision.reason,
        secret_expire_time=expires,
        refreshable=bool(document.refresh_token),
        next_run=_next_run_status(upcoming, document.expires_at, lifetime, now),
        attention=None
        if sparse is None
        else Attention(ErrorCode.SCHEDULE_TOO_SPARSE, sparse, "ERROR"),
        enabled_versions=_newest_first(enabled),
        next_sweep_disables=tuple(v.name for v in plan.disable),
        kept_versions=tuple((v.name, aliases) for v, aliases in plan.kept_for_aliases),
        lease=lease_json,
        cost=cost,
        error=expiring,
    )


# What status prices DESTROY_AFTER at when it is off: the suggested 30 days.
WHAT_IF_DESTROY_AFTER = timedelta(days=30)


@dataclass(frozen=True)
class CostStatus:
    """What the secret's versions cost now, what the next sweep destroys, and, with
    DESTROY_AFTER off, what it would cost with it on at 30 days."""

    now: Cost
    destroy_after: timedelta | None
    next_sweep_destroys: tuple[str, ...] = ()
    destroy_scheduled: tuple[str, ...] = ()
    with_destroy_after: Cost | None = None

    def to_json(self) -> dict[str, Any]:
        what_if = None
        if self.with_destroy_after is not None:
            what_if = {
                "destroy_after": format_duration(WHAT_IF_DESTROY_AFTER),
                **self.with_destroy_after.to_json(),
            }
        return {
            **self.now.to_json(),
            "price_per_version_month_usd": f"{PRICE_PER_VERSION_MONTH}",
            "price_source": PRICE_SOURCE,
            "destroy_after": None
            if self.destroy_after is None
            else format_duration(self.destroy_after),
            "next_sweep_destroys": list(self.next_sweep_destroys),
            "destroy_scheduled": list(self.destroy_scheduled),
            "with_destroy_after": what_if,
        }


def _cost(
    config: Config,
    versions: list[VersionInfo],
    latest: int,
    metadata: SecretMetadata,
    now: datetime,
) -> CostStatus:
    current = Cost(billed(versions), metadata.billed_locations)

    def destroy_plan(candidates: list[VersionInfo], destroy_after: timedelta) -> DestroyPlan:
        return plan_destroy(
            candidates,
            latest_number=latest,
            now=now,
            retention=config.retention,
            destroy_after=destroy_after,
            aliases=metadata.version_aliases,
        )

    if config.destroy_after is not None:
        planned = destroy_plan(versions, config.destroy_after)
        return CostStatus(
            current,
            config.destroy_after,
            tuple(v.name for v in planned.destroy),
            tuple(v.name for v in planned.scheduled),
        )
    # Off: what it would cost in the steady state with it on. Older versions still enabled
    # would first be disabled by the sweep; count them as disabled, as a later run would.
    as_disabled = [
        replace(v, state="DISABLED") if v.state == "ENABLED" and v.number < latest else v
        for v in versions
    ]
    gone = len(destroy_plan(as_disabled, WHAT_IF_DESTROY_AFTER).destroy)
    return CostStatus(
        current,
        None,
        with_destroy_after=Cost(current.billed_versions - gone, current.billed_locations),
    )


def _next_run_status(
    upcoming: NextRun | None, expires_at: int | None, lifetime: int | None, now: datetime
) -> NextRunStatus:
    if upcoming is None:
        return UNKNOWN_NEXT_RUN
    outlives = None if expires_at is None else expires_at > upcoming.deadline.timestamp()
    fresh = None
    if lifetime is not None:
        fresh = timedelta(seconds=lifetime) > upcoming.needed_lifetime(now)
    return NextRunStatus(rfc3339(upcoming.at), upcoming.source, outlives, fresh)


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
    if status.next_run is not None:
        lines.append(f"  comes at    {_describe_next_run(status.next_run)}")
    if status.attention is not None:
        lines.append(f"  attention   {status.attention.code}: {status.attention.message}")
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


def _describe_next_run(next_run: NextRunStatus) -> str:
    if next_run.at is None:
        return next_run.source
    outlives = {True: "outlives it", False: "does NOT outlive it", None: "unknown"}
    return (
        f"{next_run.at} ({next_run.source}); the current key {outlives[next_run.key_outlives_it]}"
        f", a fresh key {outlives[next_run.fresh_key_outlives_it]}"
    )


def _number(version: str) -> str:
    return version.rsplit("/", 1)[-1]
