"""The pacer keeps every 60 s window within the budget, and 2 writes/s to one secret.

A fake clock that the pacer's sleep advances: no test sleeps, and every wait is exact.
"""

from __future__ import annotations

import pytest

from rotation.pacing import Pacer, PacingTimeoutError, QuotaKind, SlidingWindow, wait_at_most

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
    """An RPC the table does not know is counted as a read, the cautious guess."""
    pace = pacer(FakeClock())
    pace.before_send(rpc, f"{A}/versions/1")
    assert pace.sent == {kind: 1}


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


def test_one_secret_gets_at_most_2_writes_a_second_others_are_not_held_up() -> None:
    clock = FakeClock()
    pace = pacer(clock)
    first = send_times(clock, pace, [("UpdateSecret", A), ("AddSecretVersion", A)])
    other = send_times(clock, pace, [("UpdateSecret", B), ("AddSecretVersion", B)])
    third = send_times(clock, pace, [("DisableSecretVersion", f"{A}/versions/1")])
    assert first == other == [1000.0, 1000.0]
    assert third == [1001.0]


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
    """The sweep disables versions named as Secret Manager returns them, by project number."""
    clock = FakeClock()
    pace = pacer(clock)
    send_times(clock, pace, [("UpdateSecret", "projects/my-project/secrets/a")] * 2)
    (disable,) = send_times(
        clock, pace, [("DisableSecretVersion", "projects/123456789012/secrets/a/versions/1")]
    )
    assert disable == 1001.0
