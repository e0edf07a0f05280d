"""deploy.sh refuses what the function would refuse, using the function's own validator.

deploy.sh runs ``python3 -m rotation.faces.check`` (the function's config parser and token-document
parser) before it calls gcloud at all, so a setting the function would crash on at start, or a
seed file it could not rotate, stops the deploy with the function's own message, exit 2, and
nothing created. Each test runs as a logged-in user of the fake, so an unchecked value would
have gone on to create things; the fake's request log shows that nothing was sent.

The job's --schedule and --time-zone are checked the same way: they are the function's
ROTATION_SCHEDULE and ROTATION_TIME_ZONE (a time zone Google refuses is also refused by the fake:
test_fake_rules.py, test_job_time_zone_refused).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from momento_key_common.errors import RotationError
from rotation.faces.check import check_document
from rotation.rules.config import load_config
from tests.keys import document, v1_key, v2_key

from .conftest import PROJECT, Deployer

pytestmark = pytest.mark.timeout(300)

SECRETS = ("momento-key", "other-key")
DEPLOY_ARGS = ("--project", PROJECT, "--region", "us-central1", "--secrets", ",".join(SECRETS))
# What deploy.sh deploys the function with for DEPLOY_ARGS and no other option.
FUNCTION_ENV = {
    "GOOGLE_CLOUD_PROJECT": PROJECT,
    "ROTATION_SECRETS": ",".join(SECRETS),
    "REFRESH_BEFORE": "3d",
    "RETENTION": "7d",
    "MIN_ENABLED_VERSIONS": "1",
    "DRY_RUN": "false",
    "SECRET_MANAGER_READS_PER_MINUTE": "300",
    "SECRET_MANAGER_WRITES_PER_MINUTE": "300",
    "ROTATION_SCHEDULE": "0 */6 * * *",
    "ROTATION_TIME_ZONE": "Etc/UTC",
}


def config_refusal(variable: str, value: str) -> str:
    """The message the function's own config parser gives when ``variable`` is ``value``."""
    try:
        load_config({**FUNCTION_ENV, variable: value})
    except RotationError as error:
        return error.message
    except Exception as error:  # noqa: BLE001 - the point is to report the crash
        pytest.fail(f"the function's config parser crashed on {variable}={value!r}: {error!r}")
    pytest.fail(f"the function's config parser accepted {variable}={value!r}")


def document_refusal(content: bytes) -> str:
    try:
        check_document(content, now=datetime.now(UTC))
    except RotationError as error:
        return error.message
    pytest.fail("the function's document parser accepted the seed file")


@pytest.mark.parametrize(
    ("flag", "variable", "value"),
    [
        ("--retention", "RETENTION", "0d"),
        # These two depend on rotation/rules/config.py refusing them (ConfigError) instead of
        # crashing with OverflowError / ValueError.
        ("--refresh-before", "REFRESH_BEFORE", "99999999999d"),
        ("--min-enabled-versions", "MIN_ENABLED_VERSIONS", "²"),  # a superscript two
        ("--secrets", "ROTATION_SECRETS", "momento-key,projects/x/secrets/y/versions/1"),
        ("--reads-per-minute", "SECRET_MANAGER_READS_PER_MINUTE", "0"),
        ("--writes-per-minute", "SECRET_MANAGER_WRITES_PER_MINUTE", "1"),
    ],
    ids=[
        "retention-0d",
        "refresh-before-too-long",
        "superscript-two",
        "not-a-secret-name",
        "no-reads",
        "one-write",
    ],
)
def test_a_setting_the_function_refuses_stops_the_deploy_with_its_message(
    deployer: Deployer, flag, variable, value
):
    args = [*DEPLOY_ARGS]
    if flag == "--secrets":
        args[args.index("--secrets") + 1] = value
    else:
        args += [flag, value]
    run = deployer.run(*args)
    assert run.returncode == 2, run.output
    message = config_refusal(variable, value)
    assert f"deploy.sh: {flag} ({variable}): {message}\n" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.requests == []


def test_an_environment_variable_the_function_refuses_names_it_and_its_flag(deployer: Deployer):
    env = {**deployer.env, "FUNCTION_DRY_RUN": "maybe"}
    run = deployer.run(*DEPLOY_ARGS, env=env)
    assert run.returncode == 2
    message = config_refusal("DRY_RUN", "maybe")
    assert f"deploy.sh: --function-dry-run (FUNCTION_DRY_RUN): {message}\n" in run.stderr
    assert run.requests == []


def test_a_value_that_is_not_utf8_is_refused_not_crashed_on(deployer: Deployer):
    """Depends on rotation/rules/config.py refusing undecodable values instead of crashing."""
    run = deployer.run(*DEPLOY_ARGS, "--retention", os.fsdecode(b"7\xffd"))
    assert run.returncode == 2, run.output
    assert "deploy.sh: --retention (RETENTION): RETENTION" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.requests == []


def _epoch(delta: timedelta) -> int:
    return int((datetime.now(UTC) + delta).timestamp())


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (document(apiKey=v1_key(exp=_epoch(-timedelta(hours=2)))), "expired"),
        (document(apiKey=v2_key(exp=_epoch(timedelta(days=30))), refreshToken=None), "v2"),
    ],
    ids=["expired-key", "v2-key"],
)
def test_a_seed_file_the_function_could_not_rotate_is_refused_before_any_request(
    deployer: Deployer, tmp_path: Path, content: bytes, words: str
):
    seed = tmp_path / "key.json"
    seed.write_bytes(content)
    run = deployer.run(*DEPLOY_ARGS, "--seed-from", str(seed), "--seed-secret", SECRETS[0])
    assert run.returncode == 2, run.output
    assert f"deploy.sh: --seed-from '{seed}': {document_refusal(content)}\n" in run.stderr
    assert words in run.stderr
    assert run.requests == []


def test_an_old_python_is_refused_with_a_clear_message(deployer: Deployer, tmp_path: Path):
    old = tmp_path / "python3.10"
    old.write_text('#!/bin/sh\ncase "$*" in *print*) echo 3.10.14 ;; *) exit 1 ;; esac\n')
    old.chmod(0o755)
    run = deployer.run(*DEPLOY_ARGS, env={**deployer.env, "CLOUDSDK_PYTHON": str(old)})
    assert run.returncode == 1
    assert "needs Python 3.11 or newer" in run.stderr
    assert f"{old} is Python 3.10.14" in run.stderr
    assert "CLOUDSDK_PYTHON" in run.stderr
    assert run.requests == []


@pytest.mark.parametrize(
    ("flag", "variable", "value"),
    [
        ("--time-zone", "ROTATION_TIME_ZONE", "Mars/Olympus"),
        ("--schedule", "ROTATION_SCHEDULE", "every 6 hours"),
        ("--schedule", "ROTATION_SCHEDULE", "0 3 * *"),
    ],
    ids=["time-zone", "english-like-schedule", "four-fields"],
)
def test_a_schedule_the_function_refuses_stops_the_deploy_naming_the_flag(
    deployer: Deployer, flag: str, variable: str, value: str
):
    """The job's --schedule and --time-zone are the function's ROTATION_SCHEDULE and
    ROTATION_TIME_ZONE: its parser refuses them before anything is created (Cloud Scheduler's
    English-like form included: the function could not compute the next run from it)."""
    run = deployer.run(*DEPLOY_ARGS, flag, value)
    assert run.returncode == 2, run.output
    message = config_refusal(variable, value)
    assert f"deploy.sh: {flag} ({variable}): {message}\n" in run.stderr
    assert run.requests == []


@pytest.mark.parametrize("schedule", ["61 * * * *", "0 L * * *", "0 0 * * 1#2", "0 9-5 * * *"])
def test_a_schedule_deploy_sh_cannot_read_is_refused_before_any_request(
    deployer: Deployer, schedule: str
):
    """The function's checker only checks the form on a bare Python; deploy.sh reads every field
    to compute the interval for the dead-man's switch, and refuses what it can't read."""
    run = deployer.run(*DEPLOY_ARGS, "--schedule", schedule)
    assert run.returncode == 2, run.output
    assert "deploy.sh: --schedule (ROTATION_SCHEDULE): " in run.stderr
    assert "Traceback" not in run.stderr
    assert run.requests == []
