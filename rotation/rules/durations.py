"""Durations written the way people write them in environment variables: 90m, 72h, 3d, 3600s."""

from __future__ import annotations

import re
from datetime import timedelta

# ASCII only: \d and \s would also take Unicode digits (which int() reads) and spaces.
_DURATION = re.compile(r"\s*([0-9]+)\s*([smhd])\s*", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_FORM = "a whole number followed by s, m, h or d (for example 90m, 72h, 3d, 3600s)"
# The longest a timedelta can hold, in whole days; callers set their own, shorter, limits.
LONGEST_DURATION = timedelta(days=timedelta.max.days)


class DurationTooLongError(ValueError):
    """The text has the right form but names a longer duration than the caller accepts."""


def parse_duration(text: str, *, longest: timedelta = LONGEST_DURATION) -> timedelta:
    """Parse ``text`` as a duration of at most ``longest``.

    Raise ValueError naming the accepted form, or DurationTooLongError (a ValueError) when the
    duration is longer than ``longest``, however many digits it has.
    """
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError(f"expected {DURATION_FORM}")
    amount, unit = match.groups()
    digits = amount.lstrip("0") or "0"
    limit = longest // timedelta(seconds=1)
    # Compare lengths first: int() refuses very long digit strings, and they are too long anyway.
    if len(digits) > len(str(limit)) or int(digits) * _UNIT_SECONDS[unit] > limit:
        raise DurationTooLongError(f"expected at most {format_duration(longest)}")
    return timedelta(seconds=int(digits) * _UNIT_SECONDS[unit])


def format_duration(value: timedelta) -> str:
    """The shortest exact form of ``value`` in the units parse_duration accepts."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"
