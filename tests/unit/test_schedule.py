"""When the next run comes: the Scheduler job's cron, a secret's rotation, the earlier of both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rotation.rules.schedule import (
    RETRY_MARGIN,
    CronSchedule,
    ScheduleError,
    TimeZoneError,
    check_form,
    next_run,
    parse,
)

NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    "expression",
    ["every 6 hours", "every monday 09:00", "0 3 * *", "0 0 3 * * *", "@daily", "0 3 * * * ;rm"],
    ids=["english", "english-day", "four-fields", "six-fields", "macro", "junk"],
)
def test_what_is_not_five_unix_cron_fields_is_refused_by_form(expression: str) -> None:
    with pytest.raises(ScheduleError, match="unix-cron"):
        check_form(expression)


@pytest.mark.parametrize("expression", ["61 * * * *", "0 24 * * *", "0 0 32 * *", "0 0 * 13 *"])
def test_out_of_range_fields_are_refused_when_the_library_is_there(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse(expression, "Etc/UTC")


def test_an_unknown_time_zone_is_its_own_error() -> None:
    with pytest.raises(TimeZoneError, match="Mars/Olympus"):
        parse("0 3 * * *", "Mars/Olympus")


@pytest.mark.parametrize(
    ("expression", "zone", "expected"),
    [
        ("0 3 * * *", "Etc/UTC", datetime(2026, 12, 8, 3, 0, tzinfo=UTC)),
        ("0 */6 * * *", "Etc/UTC", datetime(2026, 12, 7, 12, 0, tzinfo=UTC)),
        ("0 3 * * 1", "Etc/UTC", datetime(2026, 12, 14, 3, 0, tzinfo=UTC)),
        # 03:00 in Tokyo is 18:00 UTC the day before.
        ("0 3 * * *", "Asia/Tokyo", datetime(2026, 12, 7, 18, 0, tzinfo=UTC)),
    ],
    ids=["daily", "every-6h", "weekly", "in-a-time-zone"],
)
def test_the_next_run_of_a_cron_schedule(expression: str, zone: str, expected: datetime) -> None:
    assert CronSchedule(expression, zone).next_after(NOW) == expected


def test_the_next_run_is_the_earlier_of_the_job_and_the_secret_s_rotation() -> None:
    daily = CronSchedule("0 3 * * *")
    soon = NOW + timedelta(hours=2)
    by_rotation = next_run(daily, soon, now=NOW)
    by_job = next_run(daily, NOW + timedelta(days=5), now=NOW)
    assert by_rotation is not None and (by_rotation.at, by_rotation.interval) == (soon, None)
    assert by_job is not None and by_job.interval == timedelta(days=1)
    assert "ROTATION_SCHEDULE" in by_job.source
    assert next_run(None, None, now=NOW) is None


def test_a_fresh_key_must_outlive_the_gap_between_runs_and_the_retry_margin() -> None:
    weekly = next_run(CronSchedule("0 3 * * 1"), None, now=NOW)
    assert weekly is not None
    assert weekly.needed_lifetime(NOW) == timedelta(days=7) + RETRY_MARGIN
    assert weekly.deadline == weekly.at + RETRY_MARGIN
