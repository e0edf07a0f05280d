"""Which superseded versions to disable, and which disabled ones to destroy. Pure: the
versions and the clock are arguments.

A version is *superseded* when a newer enabled version exists; the moment it was superseded is
that newer version's create time. Counting only enabled newer versions is deliberately
conservative: a newer version someone disabled (say, a bad write) does not start the clock on the
good version before it.

Destroying is the second step, and optional (``DESTROY_AFTER``): a destroyed version cannot come
back, but it costs nothing, while an enabled or disabled one is billed every month. A version
carries no "disabled at" time, so its retention is counted from what the API does tell: the next
version's create time plus ``RETENTION``, the earliest moment the sweep could have disabled it.
Once that lies more than ``DESTROY_AFTER`` in the past, a DISABLED version is destroyed. Never
the latest version, an aliased one, or an ENABLED one; and never one already scheduled for
destruction (``version_destroy_ttl``): it is reported, not asked again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise


@dataclass(frozen=True)
class VersionInfo:
    """A secret version as Secret Manager lists it (the sweep lists ENABLED ones)."""

    name: str
    number: int
    create_time: datetime
    etag: str = ""
    state: str = "ENABLED"
    # Set while a destroy waits out the secret's version_destroy_ttl (the version is DISABLED).
    scheduled_destroy_time: datetime | None = None


@dataclass(frozen=True)
class SweepPlan:
    """What the sweep disables, oldest first, and what it keeps only because of an alias."""

    disable: list[VersionInfo] = field(default_factory=list)
    kept_for_aliases: list[tuple[VersionInfo, tuple[str, ...]]] = field(default_factory=list)


def plan_disable(
    enabled: Sequence[VersionInfo],
    *,
    latest_number: int,
    now: datetime,
    retention: timedelta,
    min_enabled: int,
    aliases: Mapping[str, int] | None = None,
) -> SweepPlan:
    """The enabled versions to disable, oldest first.

    ``enabled`` is every ENABLED version, in any order. ``latest_number`` is the version the
    rotation just read or wrote and checked is healthy: it, and anything newer that appeared
    meanwhile, are never disabled. Nor is a version any alias in ``aliases`` (alias -> version
    number, the secret's ``version_aliases``) points to: a consumer reads it by that name. At
    least ``min_enabled`` versions (and never fewer than one) stay enabled.
    """
    aliases_of: dict[int, tuple[str, ...]] = {}
    for alias, number in sorted((aliases or {}).items()):
        aliases_of[number] = (*aliases_of.get(number, ()), alias)
    newest_first = sorted(enabled, key=lambda version: version.number, reverse=True)
    may_disable = len(newest_first) - max(min_enabled, 1)
    if may_disable <= 0:
        return SweepPlan()
    expired: list[VersionInfo] = []
    kept: list[tuple[VersionInfo, tuple[str, ...]]] = []
    for newer, older in pairwise(newest_first):
        if older.number >= latest_number:
            continue
        superseded_for = now - newer.create_time
        if superseded_for <= retention:
            continue
        if older.number in aliases_of:
            kept.append((older, aliases_of[older.number]))
        else:
            expired.append(older)
    expired.sort(key=lambda version: version.number)
    kept.sort(key=lambda pair: pair[0].number)
    # Disable the oldest first; the versions kept are the newest, which consumers most likely use.
    return SweepPlan(expired[:may_disable], kept)


@dataclass(frozen=True)
class DestroyPlan:
    """What the sweep destroys, oldest first, and what already waits to be destroyed."""

    destroy: list[VersionInfo] = field(default_factory=list)
    scheduled: list[VersionInfo] = field(default_factory=list)


def plan_destroy(
    versions: Sequence[VersionInfo],
    *,
    latest_number: int,
    now: datetime,
    retention: timedelta,
    destroy_after: timedelta,
    aliases: Mapping[str, int] | None = None,
) -> DestroyPlan:
    """The DISABLED versions whose retention ended more than ``destroy_after`` ago.

    ``versions`` is every version but the destroyed ones, in any order. A version's retention
    ends at the next version's create time plus ``retention`` (see the module docstring).
    """
    aliased = set((aliases or {}).values())
    ordered = sorted(versions, key=lambda version: version.number)
    destroy: list[VersionInfo] = []
    scheduled: list[VersionInfo] = []
    for older, newer in pairwise(ordered):
        if older.state != "DISABLED" or older.number >= latest_number or older.number in aliased:
            continue
        if older.scheduled_destroy_time is not None:
            scheduled.append(older)
            continue
        if now - (newer.create_time + retention) > destroy_after:
            destroy.append(older)
    return DestroyPlan(destroy, scheduled)


def billed(versions: Sequence[VersionInfo]) -> int:
    """How many of ``versions`` Secret Manager bills: every ENABLED or DISABLED one (a version
    waiting to be destroyed is still DISABLED, and billed until it is)."""
    return sum(1 for version in versions if version.state in ("ENABLED", "DISABLED"))
