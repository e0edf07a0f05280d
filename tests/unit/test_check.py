"""``python -m rotation.faces.check``, run the way deploy.sh runs it: a separate, isolated Python.

Each test starts a fresh interpreter from the repository root with ``-E -s -S`` (no PYTHON*
variables, no user or site packages: only the standard library and this repository) and with
an environment holding nothing but the variables under test, as deploy.sh does with ``env -i``.
(``-I`` would also drop the working directory from ``sys.path`` so ``rotation`` would not be
found; ``test_it_imports_only_the_standard_library_and_pure_modules`` uses ``-I`` with the
repository put on the path by hand.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from momento_key_common.errors import RotationError
from rotation.faces.check import check_document
from rotation.rules.config import load_config
from tests.keys import document, legacy_key, v1_key, v2_key

REPO = Path(__file__).resolve().parents[2]
ISOLATED = ("-B", "-E", "-s", "-S", "-X", "utf8")
VALID_ENV = {
    "GOOGLE_CLOUD_PROJECT": "demo-project",
    "ROTATION_SECRETS": "momento-key,other-key",
    "REFRESH_BEFORE": "3d",
    "RETENTION": "7d",
    "MIN_ENABLED_VERSIONS": "1",
    "DRY_RUN": "false",
    "SECRET_MANAGER_READS_PER_MINUTE": "300",
    "SECRET_MANAGER_WRITES_PER_MINUTE": "300",
}
CANARY_REFRESH_TOKEN = "refresh-token-canary-0001"  # what tests.keys.document stores
PURE_MODULES = {
    "rotation",
    "rotation.faces",
    "rotation.faces.check",
    "rotation.rules",
    "rotation.rules.config",
    "rotation.rules.durations",
    "rotation.rules.policy",
    "rotation.rules.retention",
    # Its next-run arithmetic imports cronsim when called; importing it costs only the stdlib.
    "rotation.rules.schedule",
    # What the function shares with the reader: pure too.
    "momento_key_common",
    "momento_key_common.errors",
    "momento_key_common.names",
    "momento_key_common.token",
}


def run_check(
    *args: str | Path,
    env: dict[str, str | bytes] | None = None,
    python: str = sys.executable,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, *ISOLATED, "-m", "rotation.faces.check", *map(str, args)],
        cwd=REPO,
        env=env if env is not None else {},
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="backslashreplace",
        timeout=60,
        check=False,
    )


def assert_refused(done: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit 2, and exactly one line on stderr: ``rotation: MESSAGE``."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr == f"rotation: {message}\n"


def config_message(env: dict[str, str]) -> str:
    """The message the function's own parser gives for ``env``, in this process."""
    try:
        load_config(env)
    except RotationError as error:
        return error.message
    except Exception as error:  # noqa: BLE001 - the point is to report the crash
        pytest.fail(f"the function's config parser crashed instead of refusing: {error!r}")
    pytest.fail(f"the function's config parser accepted {env!r}")


def document_message(data: bytes) -> str:
    try:
        check_document(data, now=datetime.now(UTC))
    except RotationError as error:
        return error.message
    pytest.fail("check_document accepted the document")


def epoch(delta: timedelta) -> int:
    return int((datetime.now(UTC) + delta).timestamp())


# ---------------------------------------------------------------------------------- config


def test_config_accepts_what_deploy_sh_deploys_by_default():
    done = run_check("config", env=VALID_ENV)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_config_refuses_an_empty_environment_naming_rotation_secrets():
    done = run_check("config", env={})
    assert_refused(done, config_message({}))
    assert done.stderr.startswith("rotation: ROTATION_SECRETS ")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RETENTION", "0d"),
        ("REFRESH_BEFORE", "99999999999d"),  # depends on rotation/rules/config.py refusing it
        ("MIN_ENABLED_VERSIONS", "²"),  # a superscript two: str.isdigit() says yes, int() no
        ("MIN_ENABLED_VERSIONS", "0"),
        ("REFRESH_BEFORE", "3 days"),
        ("DRY_RUN", "maybe"),
        ("ROTATION_SECRETS", "projects/p/secrets/a/versions/1"),
        ("SECRET_MANAGER_READS_PER_MINUTE", "0"),
        ("SECRET_MANAGER_WRITES_PER_MINUTE", "1"),
    ],
)
def test_config_refuses_a_bad_value_with_the_functions_message(variable, value):
    env = {**VALID_ENV, variable: value}
    done = run_check("config", env=env)
    assert_refused(done, config_message(env))
    assert variable in done.stderr


def test_config_refuses_a_value_that_is_not_utf8_naming_the_variable():
    """Depends on rotation/rules/config.py refusing undecodable values instead of crashing."""
    done = run_check("config", env={**VALID_ENV, "RETENTION": b"7\xffd"})
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("rotation: RETENTION")
    assert done.stderr.count("\n") == 1


def test_config_reads_only_the_environment_it_is_given():
    """A variable the caller's shell has but the function will not get changes nothing."""
    os.environ["RETENTION"] = "0d"
    done = run_check("config", env=VALID_ENV)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------------------- document


def test_document_accepts_a_v1_key_that_has_not_expired(tmp_path):
    path = tmp_path / "key.json"
    path.write_bytes(document(apiKey=v1_key(exp=epoch(timedelta(days=30)))))
    done = run_check("document", path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_document_accepts_a_legacy_key_that_never_expires(tmp_path):
    path = tmp_path / "key.json"
    path.write_bytes(document(apiKey=legacy_key(), validUntil=None))
    done = run_check("document", path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{not json", "not JSON"),
        (b'["apiKey"]', "not an object"),
        (b"\xff\xfe", "not UTF-8"),
        (document(apiKey=None), "no key"),
        (document(refreshToken=None), "no refreshToken"),
        (document(refreshToken=""), "no refreshToken"),
        (document(apiKey="not-a-momento-key"), "neither a v1 Momento key nor a JWT"),
        (document(apiKey=v2_key(), refreshToken=None), "v2 Momento API key"),
        (document(apiKey=v1_key(exp=epoch(-timedelta(hours=1)))), "expired"),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "binary",
        "no-key",
        "no-refresh-token",
        "empty-refresh-token",
        "not-a-key",
        "v2-key",
        "expired-key",
    ],
)
def test_document_refuses_what_the_function_could_not_rotate(tmp_path, content, words):
    path = tmp_path / "key.json"
    path.write_bytes(content)
    done = run_check("document", path)
    assert_refused(done, document_message(content))
    assert words in done.stderr


def test_document_refusals_never_quote_the_key_or_the_refresh_token(tmp_path):
    key = v1_key(exp=epoch(-timedelta(days=1)))
    path = tmp_path / "key.json"
    path.write_bytes(document(apiKey=key))
    done = run_check("document", path)
    assert done.returncode == 2
    for secret in (key, CANARY_REFRESH_TOKEN, json.loads(document(apiKey=key))["apiKey"]):
        assert secret not in done.stderr


def test_document_that_cannot_be_read_is_refused(tmp_path):
    missing = tmp_path / "missing.json"
    done = run_check("document", missing)
    assert done.returncode == 2
    assert done.stderr.startswith(f"rotation: {missing}: cannot read it")


# ---------------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("args", [(), ("configure",), ("document",), ("config", "extra")])
def test_anything_else_prints_the_usage_and_exits_2(args):
    done = run_check(*args)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python3 -m rotation.faces.check")


def test_it_imports_only_the_standard_library_and_pure_modules():
    """``-I``: no environment, no user site, and no working directory on ``sys.path``."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import rotation.faces.check; "
        "print('\\n'.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(REPO)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={},
    )
    modules = set(done.stdout.split())
    ours = {m for m in modules if m.partition(".")[0] in ("rotation", "momento_key_common")}
    assert ours <= PURE_MODULES, ours - PURE_MODULES
    roots = {m.partition(".")[0] for m in modules - ours}
    third_party = {r for r in roots if r not in sys.stdlib_module_names and r not in {"__main__"}}
    assert third_party == set(), third_party


def _python_outside_the_venv() -> str | None:
    """A python3 (3.11+) from PATH that is not this virtual environment's."""
    venv = Path(sys.prefix).resolve()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("python3", path=folder) if folder else None
        if candidate is None or Path(candidate).resolve().is_relative_to(venv):
            continue
        if Path(folder).resolve().is_relative_to(venv):
            continue
        version = subprocess.run(
            [candidate, "-I", "-c", "import sys; print(sys.version_info >= (3, 11))"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if version.stdout.strip() == "True":
            return candidate
    return None


def test_a_python_outside_the_virtual_environment_runs_it():
    python = _python_outside_the_venv()
    if python is None:
        pytest.skip("no python3 >= 3.11 outside the virtual environment on PATH")
    assert run_check("config", env=VALID_ENV, python=python).returncode == 0
    refused = run_check("config", env={**VALID_ENV, "RETENTION": "0d"}, python=python)
    assert_refused(refused, config_message({**VALID_ENV, "RETENTION": "0d"}))


@pytest.mark.parametrize(
    ("writes_per_minute", "warned"), [("300", False), ("2", True)], ids=["fits", "too-small"]
)
def test_config_warns_when_the_write_budget_cannot_refresh_every_secret_in_time(
    writes_per_minute: str, warned: bool
) -> None:
    """deploy.sh prints this: 40 secrets need 80 writes; at 2 a minute that is 39 minutes,
    longer than a 5-minute timeout. Still valid (exit 0): a budget may be meant small."""
    secrets = ",".join(f"s{n}" for n in range(40))
    done = run_check(
        "config",
        env={
            "ROTATION_SECRETS": secrets,
            "GOOGLE_CLOUD_PROJECT": "p",
            "SECRET_MANAGER_WRITES_PER_MINUTE": writes_per_minute,
            "FUNCTION_TIMEOUT": "300s",
        },
    )
    assert done.returncode == 0
    assert ("FUNCTION_TIMEOUT=5m" in done.stderr) is warned
