"""Concurrent invocations for one secret produce exactly one refresh.

The function runs as Cloud Functions runs it, functions-framework under gunicorn, with several
workers and threads; a second deployment is a second such process. The lease that arbitrates
between them lives in Secret Manager (see rotation/service/lease.py), so processes that share nothing
else still agree.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from devtools.processes import start_function, stop
from rotation.service.lease import LEASE_ANNOTATION, parse_lease
from tests.integration.conftest import World

DAY = timedelta(days=1)
BURST = 24


def post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310 (loopback URL of our own server)
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def start_two(world: World, tmp_path: Path) -> tuple[list[str], list]:
    env = {**world.env, "ROTATION_SECRETS": ",".join(world.secrets)}
    started = []
    for index in range(2):
        # The child keeps its own handle on the log; ours can close at once.
        with (tmp_path / f"function-{index}.log").open("w") as log:
            started.append(start_function(env, log=log, workers=3, threads=4))
    return [url for _, url in started], [process for process, _ in started]


def burst(urls: list[str], body: dict[str, object]) -> list[tuple[int, dict[str, object]]]:
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        futures = [pool.submit(post, urls[i % len(urls)], body) for i in range(BURST)]
        return [future.result() for future in futures]


@pytest.mark.reliability
@pytest.mark.parametrize(
    "case",
    [(False, 30 * DAY, DAY), (True, 30 * DAY, 20 * DAY), (False, DAY, DAY / 2)],
    ids=["due", "forced", "due-again-at-once"],
)
def test_a_burst_from_two_deployments_refreshes_exactly_once(
    world: World, tmp_path: Path, case, record_property
) -> None:
    """Each case is (force, key lifetime, expires in); the last key's lifetime is shorter than
    REFRESH_BEFORE, so the refreshed key is due again at once."""
    force, lifetime, expires_in = case
    secret = world.new_secret()
    world.seed_key(secret, expires_in=expires_in, lifetime=lifetime)
    urls, processes = start_two(world, tmp_path)
    try:
        before = world.momento.refreshes
        responses = burst(urls, {"force": force})
    finally:
        for process in processes:
            stop(process)
        for log in tmp_path.glob("function-*.log"):
            print(log.read_text(), end="")  # into the captured output the leak check reads
    refreshes = world.momento.refreshes - before
    record_property("burst_refreshes", refreshes)

    assert refreshes == 1
    assert {status for status, _ in responses} == {200}
    actions = Counter(body["results"][0]["action"] for _, body in responses)  # type: ignore[index]
    assert actions == {"refreshed": 1, "skipped": BURST - 1}
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}
    record = parse_lease(world.secret_manager.annotations(secret)[LEASE_ANNOTATION])
    assert record is not None and record.base_version == 1, "released: version 2 supersedes it"


@pytest.mark.reliability
def test_concurrent_sweeps_all_succeed(world: World, tmp_path: Path) -> None:
    """Runs that race to disable the same superseded version are not failures."""
    secret = world.new_secret()
    for age in (40, 30, 20):
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    urls, processes = start_two(world, tmp_path)
    try:
        responses = burst(urls, {})
    finally:
        for process in processes:
            stop(process)
        for log in tmp_path.glob("function-*.log"):
            print(log.read_text(), end="")
    assert {status for status, _ in responses} == {200}
    assert world.states(secret) == {1: "DISABLED", 2: "DISABLED", 3: "ENABLED"}


@pytest.mark.reliability
def test_eight_concurrent_sweeps_of_a_twenty_version_backlog_all_answer_200(
    world: World, tmp_path: Path
) -> None:
    """A Scheduler retry, a manual run and an event at once: housekeeping that races on the
    same versions is not a failure, and together the runs clear the backlog."""
    secret = world.new_secret()
    for age in range(41, 20, -1):
        world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=age * DAY)
    urls, processes = start_two(world, tmp_path)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(post, urls[i % 2], {}) for i in range(8)]
            responses = [future.result() for future in futures]
    finally:
        for process in processes:
            stop(process)
        for log in tmp_path.glob("function-*.log"):
            print(log.read_text(), end="")
    assert {status for status, _ in responses} == {200}
    results = [body["results"][0] for _, body in responses]  # type: ignore[index]
    assert {result["error"] for result in results} == {None}
    states = world.states(secret)
    assert list(states.values()).count("ENABLED") == 1, "every superseded version disabled"
