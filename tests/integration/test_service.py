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
    """With a budget of 2 writes a minute, housekeeping gets one disable in (it leaves the rest
    of the window to refreshes) and the next would wait 30 s: longer than the sweep's own
    budget. The sweep stops at once, as a warning, and the next run continues."""
    secret = world.new_secret()
    for age in (50, 40, 30, 20):
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    world.configure(SECRET_MANAGER_WRITES_PER_MINUTE="2")

    call = world.call()

    result = call.only()
    assert (call.status, result["action"], result["severity"]) == (200, "skipped", "WARNING")
    message = result["attention"]["message"]
    assert result["attention"]["code"] == "sweep_incomplete"
    assert "SECRET_MANAGER_WRITES_PER_MINUTE=2" in message
    assert "disabled 1 of 3 superseded versions" in message and "2 remain enabled" in message
    assert world.states(secret) == {1: "DISABLED", 2: "ENABLED", 3: "ENABLED", 4: "ENABLED"}


def test_one_secret_named_by_project_id_and_by_number_is_rotated_once(world: World) -> None:
    """ROTATION_SECRETS may spell one secret both ways; Secret Manager's names use the number."""
    from devtools.emulators.secret_manager import project_number  # noqa: PLC0415

    secret = world.new_secret()
    world.seed_key(secret, expires_in=DAY)
    by_number = secret.replace("demo-project", project_number("demo-project"))
    world.configure(ROTATION_SECRETS=f"{secret},{by_number}")
    refreshes = world.momento.refreshes

    call = world.call()

    assert [result["secret"] for result in call.results] == [secret]
    assert call.only()["action"] == "refreshed"
    assert world.momento.refreshes == refreshes + 1
