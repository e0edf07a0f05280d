"""Retention planning: which superseded versions may be disabled, and which never."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from rotation.rules.retention import VersionInfo, billed, plan_destroy, plan_disable

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


# -- destroying (DESTROY_AFTER) ------------------------------------------------------------------


DESTROY_NOW = datetime(2026, 12, 6, tzinfo=UTC)


def chain(*superseded_days_ago: int) -> list[VersionInfo]:
    """Disabled versions 1..n, version k superseded ``superseded_days_ago[k-1]`` days ago (when
    version k+1 was created), then the latest, n+1, enabled."""
    created = [superseded_days_ago[0] + 1, *superseded_days_ago]
    chained = [
        VersionInfo(
            f"projects/p/secrets/s/versions/{number}",
            number,
            DESTROY_NOW - timedelta(days=days),
            state="DISABLED",
        )
        for number, days in enumerate(created, start=1)
    ]
    chained[-1] = replace(chained[-1], state="ENABLED")
    return chained


def destroyed(versions: list[VersionInfo], **options: object) -> list[int]:
    plan = plan_destroy(
        versions,
        latest_number=max(v.number for v in versions),
        now=DESTROY_NOW,
        retention=timedelta(days=7),
        destroy_after=timedelta(days=30),
        **options,  # type: ignore[arg-type]
    )
    return [v.number for v in plan.destroy]


def test_disabled_versions_are_destroyed_once_their_retention_ended_destroy_after_ago() -> None:
    """RETENTION=7d, DESTROY_AFTER=30d: superseded 400 and 50 days ago go; 20 days ago stays
    (its retention ended 13 days ago)."""
    versions = chain(400, 50, 20)
    assert destroyed(versions) == [1, 2]


def test_an_aliased_an_enabled_and_the_latest_version_are_never_destroyed() -> None:
    versions = chain(400, 300, 200)
    versions[1] = replace(versions[1], state="ENABLED")
    assert destroyed(versions, aliases={"stable": 1}) == [3], "1 aliased, 2 enabled, 4 latest"
    assert destroyed(chain(400)) == [1], "the latest (2) stays, whatever its age"


def test_a_version_already_scheduled_for_destruction_is_reported_not_asked_again() -> None:
    versions = chain(400, 300)
    versions[0] = replace(versions[0], scheduled_destroy_time=DESTROY_NOW + timedelta(days=1))
    plan = plan_destroy(
        versions,
        latest_number=3,
        now=DESTROY_NOW,
        retention=timedelta(days=7),
        destroy_after=timedelta(days=30),
    )
    assert [v.number for v in plan.destroy] == [2]
    assert [v.number for v in plan.scheduled] == [1]


def test_what_is_billed_is_every_enabled_or_disabled_version() -> None:
    versions = chain(400, 300)
    assert billed(versions) == 3
    assert billed([*versions, replace(versions[0], state="DESTROYED")]) == 3
