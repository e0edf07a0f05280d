"""A run rotates its secrets concurrently, and answers as if it had done them one by one."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.conftest import World

DAY = timedelta(days=1)


def test_a_fleet_is_rotated_concurrently_with_results_in_the_requests_order(
    world: World, log_lines
) -> None:
    """Due, fresh and broken secrets interleaved: each result is in its place, each secret logs
    its own line, and the emulator saw calls overlap (a 50 ms latency keeps each one open)."""
    kinds = ["due", "fresh", "broken"] * 6
    secrets = []
    for kind in kinds:
        secret = world.new_secret()
        if kind == "broken":
            world.seed(secret, b"not json")
        else:
            world.seed_key(secret, expires_in=DAY if kind == "due" else 20 * DAY)
        secrets.append(secret)
    world.secret_manager.latency = 0.05
    world.secret_manager.peak_in_flight = 0

    call = world.call()

    assert [result["secret"] for result in call.results] == secrets
    expected = {"due": "refreshed", "fresh": "skipped", "broken": "failed"}
    assert [result["action"] for result in call.results] == [expected[k] for k in kinds]
    assert call.status == 500, "a failed secret fails the run, whatever order it finished in"
    logged = [line["secret"] for line in log_lines() if line.get("event") == "rotation.result"]
    assert sorted(logged) == sorted(secrets)
    assert world.secret_manager.peak_in_flight > 1


def test_a_sweep_stops_when_the_write_budget_is_spent_and_says_so(world: World) -> None:
    """With a budget of 2 writes a minute, the third disable would wait a minute: longer than
    the sweep's own budget, so the sweep stops at once and the next run finishes it."""
    secret = world.new_secret()
    for age in (50, 40, 30, 20):
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    world.configure(SECRET_MANAGER_WRITES_PER_MINUTE="2")

    result = world.call().only()

    assert result["error"]["code"] == "sweep_incomplete"
    assert "SECRET_MANAGER_WRITES_PER_MINUTE=2" in result["error"]["message"]
    assert "after disabling 2 of 3 versions" in result["error"]["message"]
    assert world.states(secret) == {1: "DISABLED", 2: "DISABLED", 3: "ENABLED", 4: "ENABLED"}
