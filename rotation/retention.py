"""Which superseded versions to disable. Pure: the versions and the clock are arguments.

A version is *superseded* when a newer enabled version exists; the moment it was superseded is
that newer version's create time. Counting only enabled newer versions is deliberately
conservative: a newer version someone disabled (say, a bad write) does not start the clock on the
good version before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise


@dataclass(frozen=True)
class VersionInfo:
    """An enabled secret version as Secret Manager lists it."""

    name: str
    number: int
    create_time: datetime
    etag: str = ""


def plan_disable(
    enabled: Sequence[VersionInfo],
    *,
    latest_number: int,
    now: datetime,
    retention: timedelta,
    min_enabled: int,
) -> list[VersionInfo]:
    """The enabled versions to disable, oldest first.

    ``enabled`` is every ENABLED version, in any order. ``latest_number`` is the version the
    rotation just read or wrote and checked is healthy: it, and anything newer that appeared
    meanwhile, are never disabled. At least ``min_enabled`` versions (and never fewer than one)
    stay enabled.
    """
    newest_first = sorted(enabled, key=lambda version: version.number, reverse=True)
    may_disable = len(newest_first) - max(min_enabled, 1)
    if may_disable <= 0:
        return []
    expired: list[VersionInfo] = []
    for newer, older in pairwise(newest_first):
        if older.number >= latest_number:
            continue
        superseded_for = now - newer.create_time
        if superseded_for > retention:
            expired.append(older)
    expired.sort(key=lambda version: version.number)
    # Disable the oldest first; the versions kept are the newest, which consumers most likely use.
    return expired[:may_disable]
