"""What old versions cost over time, with and without DESTROY_AFTER: the README's worked example.

Simulates one secret refreshed every day, week or month, over one and three years, with the
function's own plans (rotation.rules.retention: the sweep disables versions superseded longer than
RETENTION ago, and with DESTROY_AFTER destroys disabled ones whose retention ended longer ago than
that). A run comes at each refresh, as with a schedule that refreshes whenever a run finds the
key due. It prints how many versions are billed at the end and what that costs a month at the
list price (rotation.rules.costs), for one location (automatic replication).

Usage: ``.venv/bin/python -m devtools.costs``
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rotation.rules.costs import PRICE_PER_VERSION_MONTH, PRICE_SOURCE, Cost
from rotation.rules.retention import VersionInfo, billed, plan_destroy, plan_disable

RETENTION = timedelta(days=7)
DESTROY_AFTER = timedelta(days=30)
REFRESHES = {"daily": timedelta(days=1), "weekly": timedelta(days=7), "monthly": timedelta(days=30)}
HORIZONS = {"1 year": timedelta(days=365), "3 years": timedelta(days=3 * 365)}
START = datetime(2026, 1, 1, tzinfo=UTC)


def simulate(every: timedelta, horizon: timedelta, destroy_after: timedelta | None) -> int:
    """Versions billed at the end of ``horizon`` when the key is refreshed ``every``."""
    versions: list[VersionInfo] = []
    now = START
    while now <= START + horizon:
        number = len(versions) + 1
        versions.append(VersionInfo(f"v{number}", number, now))
        _sweep(versions, now, destroy_after)
        now += every
    return billed(versions)


def _sweep(versions: list[VersionInfo], now: datetime, destroy_after: timedelta | None) -> None:
    latest = versions[-1].number
    enabled = [v for v in versions if v.state == "ENABLED"]
    plan = plan_disable(enabled, latest_number=latest, now=now, retention=RETENTION, min_enabled=1)
    for version in plan.disable:
        versions[version.number - 1] = replace(version, state="DISABLED")
    if destroy_after is None:
        return
    live = [v for v in versions if v.state != "DESTROYED"]
    gone = plan_destroy(
        live, latest_number=latest, now=now, retention=RETENTION, destroy_after=destroy_after
    )
    for version in gone.destroy:
        versions[version.number - 1] = replace(version, state="DESTROYED")


def main() -> int:
    print(
        f"one secret, one location, RETENTION={RETENTION.days}d; ${PRICE_PER_VERSION_MONTH} per "
        f"active version a month ({PRICE_SOURCE})"
    )
    header = f"  {'refreshed':<10}{'after':<9}{'off: versions':>14}{'$/month':>9}"
    print(f"{header}{f'DESTROY_AFTER={DESTROY_AFTER.days}d: versions':>28}{'$/month':>9}")
    for label, every in REFRESHES.items():
        for span, horizon in HORIZONS.items():
            off = Cost(simulate(every, horizon, None), 1)
            on = Cost(simulate(every, horizon, DESTROY_AFTER), 1)
            print(
                f"  {label:<10}{span:<9}{off.billed_versions:>14}{off.monthly_usd:>9.2f}"
                f"{on.billed_versions:>28}{on.monthly_usd:>9.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
