"""The pacer keeps every 60 s window within the budget, and each narrower limit by its scope:
2 adds and updates a second per secret, 1 state change a second per version.

A fake clock that the pacer's sleep advances: no test sleeps, and every wait is exact.
"""

from __future__ import annotations

import pytest

from rotation.adapters.pacing import (
    HOUSEKEEPING_RESERVE,
    REFRESH_WRITES,
    Pacer,
    PacingTimeoutError,
    QuotaKind,
    SlidingWindow,
    housekeeping,
    wait_at_most,
)
from rotation.rules.policy import WRITES_PER_REFRESH

A = "projects/p/secrets/a"
B = "projects/p/secrets/b"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer(clock: FakeClock, *, reads: int = 300, writes: int = 300) -> Pacer:
    return Pacer(reads_per_minute=reads, writes_per_minute=writes, clock=clock, sleep=clock.sleep)


def send_times(clock: FakeClock, pace: Pacer, calls: list[tuple[str, str]]) -> list[float]:
    times = []
    for rpc, resource in calls:
        pace.before_send(rpc, resource)
        times.append(clock.now)
    return times


def most_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


@pytest.mark.parametrize(
    ("rpc", "kind"),
    [
        ("AccessSecretVersion", QuotaKind.ACCESS),
        ("GetSecret", QuotaKind.READ),
        ("ListSecretVersions", QuotaKind.READ),
        ("GetSecretVersion", QuotaKind.READ),
        ("UpdateSecret", QuotaKind.WRITE),
        ("AddSecretVersion", QuotaKind.WRITE),
        ("DisableSecretVersion", QuotaKind.WRITE),
        ("SomethingNew", QuotaKind.READ),
    ],
)
def test_each_call_counts_against_its_quota_kind(rpc: str, kind: QuotaKind) -> None:
    """An RPC the table does not know is counted as a read, the cautious guess; an access is
    counted against neither budget (its quota is 150 times theirs)."""
    pace = pacer(FakeClock())
    pace.before_send(rpc, f"{A}/versions/1")
    paced = {budget: pace.sent_in_window(budget) for budget in (QuotaKind.READ, QuotaKind.WRITE)}
    assert paced == {budget: int(budget is kind) for budget in paced}


def test_a_full_window_waits_exactly_until_its_oldest_call_is_60_s_old() -> None:
    clock = FakeClock()
    pace = pacer(clock, reads=3)
    times = send_times(clock, pace, [("GetSecret", A)] * 3)
    clock.now += 10
    (fourth,) = send_times(clock, pace, [("GetSecret", A)])
    assert times == [1000.0] * 3
    assert fourth == 1060.0


@pytest.mark.parametrize(
    ("budget", "calls", "gap"),
    [(5, 40, 0.0), (5, 40, 7.0), (300, 1000, 0.01), (2, 9, 31.0)],
    ids=["burst", "spaced", "big-fleet", "budget-of-two"],
)
def test_no_60_s_window_ever_holds_more_than_the_budget(
    budget: int, calls: int, gap: float
) -> None:
    clock = FakeClock()
    pace = pacer(clock, writes=budget)
    times = []
    for index in range(calls):
        pace.before_send("DisableSecretVersion", f"projects/p/secrets/s{index}/versions/1")
        times.append(clock.now)
        clock.now += gap
    assert most_in_any_window(times, 60.0) == budget
    assert pace.sent_in_window(QuotaKind.WRITE) <= budget


def test_reads_and_writes_have_separate_budgets_and_accesses_none() -> None:
    clock = FakeClock()
    pace = pacer(clock, reads=1, writes=2)
    send_times(clock, pace, [("GetSecret", A), ("UpdateSecret", A), ("AddSecretVersion", A)])
    send_times(clock, pace, [("AccessSecretVersion", f"{A}/versions/latest")] * 100)
    assert clock.now == 1000.0, "nothing waited"


def test_one_secret_gets_at_most_2_adds_and_updates_a_second_others_are_not_held_up() -> None:
    clock = FakeClock()
    pace = pacer(clock)
    first = send_times(clock, pace, [("UpdateSecret", A), ("AddSecretVersion", A)])
    other = send_times(clock, pace, [("UpdateSecret", B), ("AddSecretVersion", B)])
    third = send_times(clock, pace, [("UpdateSecret", A)])
    assert first == other == [1000.0, 1000.0]
    assert third == [1001.0]


def test_disables_are_limited_per_version_not_per_secret() -> None:
    """Secret Manager limits state changes per version (1/s): a sweep of one secret's many
    versions is bound by the project's budget, not by the per-secret limit on adds."""
    clock = FakeClock()
    pace = pacer(clock)
    send_times(clock, pace, [("UpdateSecret", A), ("AddSecretVersion", A)])
    versions = send_times(
        clock, pace, [("DisableSecretVersion", f"{A}/versions/{n}") for n in range(1, 21)]
    )
    again = send_times(clock, pace, [("EnableSecretVersion", f"{A}/versions/20")])
    assert versions == [1000.0] * 20
    assert again == [1001.0], "one version, changed twice: the second waits a second"


@pytest.mark.parametrize("budget", [60, 300, 600])
def test_housekeeping_runs_at_the_budget_s_pace_and_no_faster(budget: int) -> None:
    """A sweep of a backlog gets the budget's rate (budget/60 a second), spread out, so it
    never fills the window in a burst that a refresh would then wait a minute behind."""
    clock = FakeClock()
    pace = pacer(clock, writes=budget)
    with housekeeping():
        times = send_times(
            clock, pace, [("DisableSecretVersion", f"{A}/versions/{n}") for n in range(2 * budget)]
        )
    spacing = 60.0 / budget
    assert times[1] - times[0] == pytest.approx(spacing)
    per_minute = sum(1 for t in times if t < times[0] + 60.0)
    assert budget - HOUSEKEEPING_RESERVE <= per_minute <= budget
    assert most_in_any_window(times, 60.0) <= budget - HOUSEKEEPING_RESERVE


def test_a_refresh_is_never_starved_by_housekeeping() -> None:
    """However long a sweep has been filling the window, a refresh finds its two writes."""
    clock = FakeClock()
    pace = pacer(clock, writes=10)
    with housekeeping():
        send_times(clock, pace, [("DisableSecretVersion", f"{A}/versions/{n}") for n in range(30)])
    started = clock.now
    with pace.refresh_writes(B):
        send_times(clock, pace, [("UpdateSecret", B), ("AddSecretVersion", B)])
    assert clock.now == started, "the reserve was free"


def test_a_refresh_s_two_writes_are_reserved_before_the_lease() -> None:
    """Once the lease is taken, the add never waits, however busy the budget got meanwhile."""
    clock = FakeClock()
    pace = pacer(clock, writes=4)
    with pace.refresh_writes(A):
        pace.before_send("UpdateSecret", A)
        others = send_times(
            clock, pace, [("DisableSecretVersion", f"{B}/versions/{n}") for n in (1, 2)]
        )
        assert pace.sent_in_window(QuotaKind.WRITE) == 3
        clock.now += 5  # the refresh
        (add,) = send_times(clock, pace, [("AddSecretVersion", A)])
    assert others == [1000.0, 1000.0], "2 writes a second to B are fine"
    assert add == 1005.0, "not held up, though the window now holds 4 of 4"
    (next_write,) = send_times(clock, pace, [("UpdateSecret", B)])
    assert next_write == 1060.0


def test_unused_reserved_writes_are_given_back() -> None:
    """A run that finds the lease held sends no write: its reservation frees at once."""
    clock = FakeClock()
    pace = pacer(clock, writes=2)
    with pace.refresh_writes(A):
        pass
    assert send_times(clock, pace, [("UpdateSecret", B), ("AddSecretVersion", B)]) == [1000.0] * 2


def test_a_retry_of_a_reserved_write_waits_like_any_other_call() -> None:
    clock = FakeClock()
    pace = pacer(clock)
    with pace.refresh_writes(A):
        times = send_times(clock, pace, [("UpdateSecret", A), ("UpdateSecret", A)])
        (add,) = send_times(clock, pace, [("AddSecretVersion", A)])
    assert times == [1000.0, 1001.0], "the retry waits for A's per-second limit"
    assert add == 1001.0, "the reserved add still goes out at once"


def test_a_bounded_wait_gives_up_and_says_which_budget() -> None:
    clock = FakeClock()
    pace = pacer(clock, writes=2)
    send_times(clock, pace, [("UpdateSecret", A), ("UpdateSecret", B)])
    with wait_at_most(10.0), pytest.raises(PacingTimeoutError) as refused:
        pace.before_send("DisableSecretVersion", f"{A}/versions/1")
    assert "SECRET_MANAGER_WRITES_PER_MINUTE=2" in refused.value.message
    assert str(refused.value.code) == "secret_manager_quota"
    assert clock.now == 1000.0, "it did not wait for nothing"


def test_the_window_frees_exactly_at_60_s() -> None:
    window = SlidingWindow(2, 60.0, "budget")
    window.send(0.0)
    window.send(10.0)
    assert window.wait(59.0) == 1.0
    assert window.wait(60.0) == 0.0
    assert window.wait(60.0, slots=2) == 10.0


def test_a_secret_named_by_project_number_shares_its_window_with_the_name_we_configured() -> None:
    """Secret Manager returns names with the project number; we send them with the id."""
    clock = FakeClock()
    pace = pacer(clock)
    send_times(clock, pace, [("UpdateSecret", "projects/my-project/secrets/a")] * 2)
    (add,) = send_times(clock, pace, [("AddSecretVersion", "projects/123456789012/secrets/a")])
    assert add == 1001.0


def test_a_long_wait_for_the_budget_is_logged_every_10_s(capsys) -> None:
    clock = FakeClock()
    pace = pacer(clock, writes=2)
    send_times(clock, pace, [("UpdateSecret", A), ("UpdateSecret", B)])
    pace.before_send("UpdateSecret", "projects/p/secrets/c")
    lines = [line for line in capsys.readouterr().out.splitlines() if "waiting_for_budget" in line]
    assert 4 <= len(lines) <= 6, "about one line per 10 s of a 60 s wait"
    assert "SECRET_MANAGER_WRITES_PER_MINUTE=2" in lines[0]


def test_the_budget_warning_counts_the_writes_a_refresh_really_makes() -> None:
    assert len(REFRESH_WRITES) == WRITES_PER_REFRESH


def test_a_regional_secret_is_paced_by_the_regional_limits() -> None:
    """Regional secrets allow 80 adds and updates a second per secret (and 50 state changes per
    version): a global secret of the same id keeps its own window of 2."""
    clock = FakeClock()
    pace = pacer(clock, writes=1000)
    regional = "projects/p/locations/us-central1/secrets/a"
    burst = send_times(clock, pace, [("UpdateSecret", regional)] * 80)
    global_ = send_times(clock, pace, [("UpdateSecret", A)] * 3)
    more = send_times(clock, pace, [("UpdateSecret", regional)])
    assert burst == [1000.0] * 80
    assert global_ == [1000.0, 1000.0, 1001.0], "the global secret of the same id: 2 a second"
    assert more == [1001.0]
