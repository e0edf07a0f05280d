"""Durations written the way people write them in environment variables: 90m, 72h, 3d, 3600s."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_FORM = "a whole number followed by s, m, h or d (for example 90m, 72h, 3d, 3600s)"


def parse_duration(text: str) -> timedelta:
    """Parse ``text`` as a duration; raise ValueError naming the accepted form."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"expected {DURATION_FORM}")
    amount, unit = match.groups()
    return timedelta(seconds=int(amount) * _UNIT_SECONDS[unit])


def format_duration(value: timedelta) -> str:
    """The shortest exact form of ``value`` in the units parse_duration accepts."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"
