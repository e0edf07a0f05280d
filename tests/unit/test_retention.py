"""Retention planning: which superseded versions may be disabled, and which never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rotation.retention import VersionInfo, plan_disable

NOW = datetime(2026, 11, 28, tzinfo=UTC)
DAY = timedelta(days=1)


def versions(*created_days_ago: float) -> list[VersionInfo]:
    """Enabled versions numbered 1.. in order, created the given number of days ago."""
    return [
        VersionInfo(f"v{number}", number, NOW - timedelta(days=age))
        for number, age in enumerate(created_days_ago, start=1)
    ]


def plan(enabled, *, latest=None, retention=7 * DAY, min_enabled=1) -> list[int]:
    latest_number = latest if latest is not None else max(v.number for v in enabled)
    doomed = plan_disable(
        enabled, latest_number=latest_number, now=NOW, retention=retention, min_enabled=min_enabled
    )
    return [version.number for version in doomed.disable]


@pytest.mark.parametrize(
    ("ages", "kwargs", "expected"),
    [
        # v1 superseded by v2 20 days ago, v2 by v3 8 days ago: both past 7 days.
        ((30, 20, 8), {}, [1, 2]),
        # v2 was superseded by v3 only 3 days ago: keep it.
        ((30, 20, 3), {}, [1]),
        # Exactly at the window is not "longer than" it.
        ((30, 7), {}, []),
        ((30, 7.001), {}, [1]),
        # The only version is the latest: never disabled.
        ((400,), {}, []),
        # Keep at least three enabled: only the oldest of four may go.
        ((40, 30, 20, 10), {"min_enabled": 3}, [1]),
        # min_enabled larger than what exists: nothing goes.
        ((40, 30), {"min_enabled": 5}, []),
        # A short retention window.
        ((2, 1), {"retention": timedelta(hours=1)}, [1]),
        # Versions listed out of order are planned the same.
        ((8, 30, 20), {"latest": 1}, []),
    ],
    ids=[
        "two-expired",
        "one-in-window",
        "at-window",
        "just-past-window",
        "single",
        "min-enabled",
        "min-enabled-above-count",
        "short-window",
        "latest-is-not-newest",
    ],
)
def test_plan(ages, kwargs, expected) -> None:
    assert plan(versions(*ages), **kwargs) == expected


def test_never_disables_the_latest_even_when_old() -> None:
    assert 3 not in plan(versions(300, 200, 100))


def test_versions_newer_than_the_checked_latest_are_left_alone() -> None:
    """A version written meanwhile by someone else is not ours to judge."""
    enabled = versions(100, 90, 80)
    assert plan(enabled, latest=2) == [1]


def test_unordered_input_gives_oldest_first() -> None:
    enabled = list(reversed(versions(50, 40, 30, 20)))
    assert plan(enabled) == [1, 2, 3]


def test_gaps_in_numbering_use_the_next_enabled_version() -> None:
    """v2 was disabled earlier; v1 counts as superseded from v3's creation."""
    enabled = [VersionInfo("v1", 1, NOW - 40 * DAY), VersionInfo("v3", 3, NOW - 5 * DAY)]
    assert plan(enabled) == []
