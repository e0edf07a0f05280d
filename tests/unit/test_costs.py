"""What old versions cost: the README's worked example is what the simulation prints."""

from __future__ import annotations

import contextlib
import io

from devtools import costs
from rotation.rules.costs import PRICE_PER_VERSION_MONTH, Cost
from tests.readme import block


def test_the_readme_s_worked_example_reproduces() -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        costs.main()
    assert printed.getvalue().rstrip("\n") == block("costs")


def test_a_version_costs_the_list_price_in_each_location_it_is_billed_in() -> None:
    assert Cost(10, 3).monthly_usd == PRICE_PER_VERSION_MONTH * 30


def test_destroy_after_keeps_a_daily_secret_s_cost_flat() -> None:
    """Without it the versions of a daily refresh grow without end; with it they level off."""
    year, three = costs.HORIZONS["1 year"], costs.HORIZONS["3 years"]
    daily = costs.REFRESHES["daily"]
    assert costs.simulate(daily, three, None) > 2.9 * costs.simulate(daily, year, None)
    assert costs.simulate(daily, three, costs.DESTROY_AFTER) == costs.simulate(
        daily, year, costs.DESTROY_AFTER
    )
