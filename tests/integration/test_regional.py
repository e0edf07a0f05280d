"""Regional secrets are first-class: every path a global secret takes, end to end.

A regional secret is ``projects/P/locations/L/secrets/S``; its data stays in L, and only L's
endpoint serves it (with an emulator, one channel serves every location, so the wiring to each
endpoint is tested in tests/unit/test_secret_store_pacing.py). A global and a regional secret
with the same id are different secrets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.emulators.secret_manager import project_number
from tests.integration.conftest import PROJECT, World
from tests.integration.test_schedules import run_by_schedule

DAY = timedelta(days=1)
REGION = "us-central1"
NUMBER = project_number(PROJECT)


def results(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == "rotation.result"]


def test_a_regional_secret_is_rotated_and_swept_over_http(world: World) -> None:
    secret = world.new_secret(location=REGION)
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=30 * DAY)
    world.seed(secret, world.issue(expires_in=DAY).console_json(), age=20 * DAY)

    call = world.call()

    result = call.only()
    assert (call.status, result["secret"], result["action"]) == (200, secret, "refreshed")
    regional = f"projects/{NUMBER}/locations/{REGION}/secrets/"
    assert result["version"].startswith(regional) and result["version"].endswith("/versions/3")
    assert result["disabled_versions"] == [f"{secret.replace(PROJECT, NUMBER)}/versions/1"]
    assert world.states(secret) == {1: "DISABLED", 2: "ENABLED", 3: "ENABLED"}


def test_a_global_and_a_regional_secret_of_the_same_id_are_two_secrets(world: World) -> None:
    """One run, mixed: each is read, refreshed and reported as itself."""
    short = f"momento-{datetime.now(UTC).timestamp():.0f}"
    global_secret = world.new_secret(short=short)
    regional = world.new_secret(short=short, location=REGION)
    world.seed_key(global_secret, expires_in=DAY)
    world.seed_key(regional, expires_in=20 * DAY)

    call = world.call()

    assert [(r["secret"], r["action"]) for r in call.results] == [
        (global_secret, "refreshed"),
        (regional, "skipped"),
    ]
    assert world.states(global_secret) == {1: "ENABLED", 2: "ENABLED"}
    assert world.states(regional) == {1: "ENABLED"}


def test_a_scheduled_rotation_of_a_regional_secret_reaches_rotate_event(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """Secret Manager's SECRET_ROTATE names the regional secret by project number."""
    secret = world.new_secret(location=REGION)
    world.seed(secret, world.issue(expires_in=20 * DAY).console_json(), age=DAY)

    assert run_by_schedule(world, secret, period=7 * DAY) == 200

    (line,) = results(log_lines())
    assert (line["secret"], line["action"]) == (secret, "refreshed")
    assert world.states(secret) == {1: "ENABLED", 2: "ENABLED"}


def test_the_cli_rotates_and_reports_a_regional_secret(world: World) -> None:
    secret = world.new_secret(location=REGION)
    world.seed_key(secret, expires_in=DAY)

    dry = world.run_python("-m", "rotation", "--secrets", secret, "--dry-run", ROTATION_SECRETS="")
    forced = world.run_python("-m", "rotation", "--secrets", secret, ROTATION_SECRETS="")
    status = world.run_python("-m", "rotation", "status", secret, "--json", ROTATION_SECRETS="")

    assert json.loads(dry.stdout)["results"][0]["reason"].startswith("dry run: would refresh")
    assert json.loads(forced.stdout)["results"][0]["action"] == "refreshed"
    (reported,) = json.loads(status.stdout)["secrets"]
    assert reported["secret"] == secret and reported["latest_version"].endswith("/versions/2")


def test_a_label_finds_regional_secrets_in_the_locations_it_is_told_to_search(
    world: World,
) -> None:
    label = f"r{datetime.now(UTC).timestamp():.0f}"
    in_region = world.new_secret(location=REGION, labels={"rotation": label})
    elsewhere = world.new_secret(location="europe-west4", labels={"rotation": label})
    for secret in (in_region, elsewhere):
        world.seed_key(secret, expires_in=20 * DAY)
    world.configure(
        ROTATION_SECRETS="", ROTATION_LABEL=f"rotation={label}", ROTATION_LOCATIONS=REGION
    )

    call = world.call()

    assert [result["secret"] for result in call.results] == [in_region]


def test_a_location_secret_manager_does_not_serve_is_named(world: World) -> None:
    """It has no endpoint, which looks like UNAVAILABLE forever: the Locations API says why."""
    world.secret_manager.locations = {REGION}
    secret = f"projects/{PROJECT}/locations/mars-north1/secrets/momento-key"
    world.configure(ROTATION_SECRETS=secret)

    result = world.call().only()

    assert (result["action"], result["error"]["code"]) == ("failed", "location_not_served")
    assert "'mars-north1'" in result["error"]["message"]
    assert "gcloud secrets locations list" in result["error"]["message"]


def test_a_request_for_another_location_s_secret_of_the_same_id_is_refused(world: World) -> None:
    secret = world.new_secret(location=REGION)
    world.seed_key(secret, expires_in=20 * DAY)
    other = secret.replace(REGION, "europe-west4")

    call = world.call({"secrets": [other]})

    assert call.status == 403
    assert call.body["error"]["code"] == "secret_not_configured"


def test_a_bad_location_id_in_rotation_secrets_names_the_location(world: World) -> None:
    done = world.run_python(
        "-m",
        "rotation",
        "--secrets",
        f"projects/{PROJECT}/locations/US_Central/secrets/momento-key",
        ROTATION_SECRETS="",
    )
    assert done.returncode == 2
    assert "location 'US_Central' is not a location id" in done.stderr


def test_a_regional_secret_by_project_number_in_a_request_is_the_configured_one(
    world: World,
) -> None:
    secret = world.new_secret(location=REGION)
    world.seed_key(secret, expires_in=20 * DAY)

    call = world.call({"secrets": [secret.replace(PROJECT, NUMBER)]})

    assert [result["secret"] for result in call.results] == [secret]


def test_the_reader_reads_a_regional_secret_by_full_name(world: World) -> None:
    from momento_key_reader import KeyReader  # noqa: PLC0415

    secret = world.new_secret(location=REGION)
    issued = world.seed_key(secret, expires_in=20 * DAY)

    reader = KeyReader(secret, emulator_host=world.secret_manager.address)

    assert reader.api_key() == issued.api_key
    assert reader.version is not None and f"/locations/{REGION}/" in reader.version


def test_the_demo_rotates_a_regional_secret_beside_the_global_one() -> None:
    """./dev.sh demo --regional: the same id, two secrets, both refreshed."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from tests.integration.conftest import ROOT  # noqa: PLC0415

    done = subprocess.run(
        [sys.executable, "-m", "devtools.demo", "--regional"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    regional = done.stdout.split("== after, the regional secret ==", 1)[1]
    assert "version 2: ENABLED" in regional.split("==", 1)[0]
    assert f"projects/demo-project/locations/{REGION}/secrets/momento-api-key: refreshed" in (
        done.stdout
    )


def test_losing_a_regional_secret_or_its_latest_version_is_loud(
    world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    from tests.integration.test_rotate_event import deliver, notification  # noqa: PLC0415

    deleted = world.new_secret(location=REGION)
    world.seed_key(deleted, expires_in=20 * DAY)
    disabled = world.new_secret(location=REGION)
    world.seed_key(disabled, expires_in=20 * DAY)
    world.seed(disabled, world.issue(expires_in=20 * DAY).console_json(), state="DISABLED")
    world.secret_manager.set_expire_time(deleted, datetime.now(UTC) - timedelta(seconds=1))
    version_event = notification(
        disabled.replace(PROJECT, NUMBER), event_type="SECRET_VERSION_DISABLE"
    )
    version_event["message"]["attributes"]["versionId"] = (
        f"{disabled.replace(PROJECT, NUMBER)}/versions/2"
    )

    gone = deliver(
        world, notification(deleted.replace(PROJECT, NUMBER), event_type="SECRET_DELETE")
    )
    off = deliver(world, version_event)

    assert (gone.status, off.status) == (200, 200)
    codes = {(line["secret"], line["error_code"]) for line in results(log_lines())}
    assert codes == {(deleted, "secret_deleted"), (disabled, "latest_version_not_enabled")}
