"""When the next run comes, so that no key dies between two runs.

Runs come from two places: the Cloud Scheduler job (``ROTATION_SCHEDULE``, unix-cron, in
``ROTATION_TIME_ZONE``: the job's own ``--schedule`` and ``--time-zone``, which deploy.sh
passes), and Secret Manager's rotation schedule (each secret's ``rotation.next_rotation_time``,
which GetSecret returns). The next run is the earlier of the two.

A run may fail and be retried: Cloud Scheduler retries a failed job (deploy.sh: up to 3 times,
backing off from 60 s to 600 s, each attempt allowed the function's timeout plus 30 s), and
Pub/Sub redelivers a failed event (10 s to 600 s). :data:`RETRY_MARGIN` covers that: a key is
counted as needing to live until the next run plus the margin.

The cron arithmetic is ``cronsim``'s (a small, single-file, typed library that follows Debian
cron, DST quirks included). It is imported only when a next run is computed: the form of an
expression is checked without it (:func:`check_form`), so that ``python3 -m rotation.faces.check``
keeps running on a bare Python, as deploy.sh runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

# Four attempts of a 5-minute function with 60-120-240 s between them take under half an hour;
# an hour also covers a longer --timeout (up to 3600 s makes it about 4 h: see deploy.sh's
# warning) for the first attempt or two, and Pub/Sub's redelivery backoff.
RETRY_MARGIN = timedelta(hours=1)
# A unix-cron field: numbers, names, *, ranges, steps and lists (Cloud Scheduler's format).
_FIELD = re.compile(r"[0-9A-Za-z*/,-]+")
CRON_FORM = (
    "a unix-cron expression of 5 fields, minute hour day-of-month month day-of-week, such as "
    "'0 */6 * * *' (Cloud Scheduler's English-like form, 'every 6 hours', can't be computed "
    "here: use unix-cron)"
)


class ScheduleError(ValueError):
    """The expression is not a schedule this module can compute."""


class TimeZoneError(ScheduleError):
    """The time zone is not one of the tz database's."""


def check_form(expression: str) -> None:
    """Refuse what is not five unix-cron fields; the values are checked by :func:`parse`."""
    fields = expression.split()
    if len(fields) != 5 or not all(_FIELD.fullmatch(field) for field in fields):
        raise ScheduleError(f"{expression[:80]!r} is not {CRON_FORM}")


@dataclass(frozen=True)
class CronSchedule:
    """A Cloud Scheduler job's schedule: a unix-cron expression in a time zone."""

    expression: str
    time_zone: str = "Etc/UTC"

    def next_after(self, moment: datetime) -> datetime:
        """The first run strictly after ``moment`` (an aware datetime)."""
        from zoneinfo import ZoneInfo  # noqa: PLC0415 - it reads the platform's configuration

        from cronsim import CronSim  # noqa: PLC0415 - only runs that look ahead need it

        local = moment.astimezone(ZoneInfo(self.time_zone))
        return next(CronSim(self.expression, local))


def parse(expression: str, time_zone: str) -> CronSchedule:
    """A schedule whose every field and time zone are valid, or ScheduleError saying which."""
    from zoneinfo import ZoneInfo  # noqa: PLC0415 - as in next_after

    check_form(expression)
    try:
        zone = ZoneInfo(time_zone)
    except (ValueError, KeyError):
        raise TimeZoneError(f"{time_zone[:80]!r} is not a time zone of the tz database") from None
    schedule = CronSchedule(expression, time_zone)
    try:
        from cronsim import CronSim, CronSimError  # noqa: PLC0415
    except ModuleNotFoundError:
        return schedule  # a bare Python (deploy.sh's checks): the form is all it can check
    try:
        CronSim(expression, datetime.now(zone))
    except CronSimError as error:
        raise ScheduleError(f"{expression[:80]!r}: {error}; use {CRON_FORM}") from None
    return schedule


@dataclass(frozen=True)
class NextRun:
    """When the next run comes, what brings it, and how long runs are apart, when known (the
    cron's gap after it; a secret's rotation period is input-only, so not read back)."""

    at: datetime
    source: str
    interval: timedelta | None = None

    @property
    def deadline(self) -> datetime:
        """A key must live past this, or it is due now: the next run, and its retries."""
        return self.at + RETRY_MARGIN

    def needed_lifetime(self, now: datetime) -> timedelta:
        """How long a fresh key must live for the schedule to keep it alive: longer than the
        runs are apart (or, not knowing that, than the wait for the next run), plus the margin.
        """
        gap = self.interval if self.interval is not None else self.at - now
        return gap + RETRY_MARGIN


def next_run(
    schedule: CronSchedule | None, next_rotation_time: datetime | None, *, now: datetime
) -> NextRun | None:
    """The next run, the earlier of the job and the secret's rotation; None when neither is
    known."""
    candidates: list[NextRun] = []
    if schedule is not None:
        at = schedule.next_after(now)
        source = f"ROTATION_SCHEDULE {schedule.expression!r} ({schedule.time_zone})"
        candidates.append(NextRun(at, source, schedule.next_after(at) - at))
    if next_rotation_time is not None:
        candidates.append(NextRun(max(next_rotation_time, now), "the secret's rotation schedule"))
    return min(candidates, key=lambda run: run.at) if candidates else None
