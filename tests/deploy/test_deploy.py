"""deploy.sh, run with the real gcloud CLI against a local fake of Google's REST APIs.

One shared scenario (deploy, deploy again, change a setting, tear down, tear down again) is
recorded request by request; the tests below are statements about those requests. Tests that
fail before gcloud is called run without gcloud.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devtools.fake_google_apis import JSON, FakeGoogleApis, RecordedRequest, check_labels
from momento_key_common.errors import RotationError
from rotation.faces.check import check_document
from tests.keys import v1_key

from .conftest import DEPLOY_SH, PROJECT, REPO, Deployer, Run, base_env

pytestmark = pytest.mark.timeout(300)

SECRETS = ("momento-key", "other-key")
UNRELATED_SECRET = "unrelated-secret"
FUNCTION = "momento-key-rotation"
REGION = "us-central1"
FUNCTION_SA = f"momento-key-rotator@{PROJECT}.iam.gserviceaccount.com"
SCHEDULER_SA = f"momento-key-rotation-invoker@{PROJECT}.iam.gserviceaccount.com"
ROLE = f"projects/{PROJECT}/roles/momentoKeyRotator"
ROTATOR_PERMISSIONS = {
    "secretmanager.secrets.get",
    "secretmanager.secrets.update",
    "secretmanager.versions.access",
    "secretmanager.versions.add",
    "secretmanager.versions.disable",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
}
REQUIRED_APIS = {
    "cloudfunctions.googleapis.com",
    "run.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudscheduler.googleapis.com",
    "secretmanager.googleapis.com",
}
# A real-shaped v1 key (the function's parser refuses anything else), valid until 2030.
API_KEY_CANARY = v1_key(exp=1_900_000_000, sub="canary-api-key-7f3c9a1e")
REFRESH_CANARY = "canary-refresh-token-52d8b06e"
DEPLOY_ARGS = ("--project", PROJECT, "--region", REGION, "--secrets", ",".join(SECRETS))


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory) -> Path:
    """A file shaped like the JSON Momento's console downloads, holding canary values."""
    path = tmp_path_factory.mktemp("downloads") / "momento-api-key.json"
    document = {"apiKey": API_KEY_CANARY, "refreshToken": REFRESH_CANARY, "validUntil": 1900000000}
    path.write_text(json.dumps(document))
    return path


@dataclass(frozen=True)
class Scenario:
    first: Run
    second: Run
    changed: Run
    teardown: Run
    teardown_again: Run
    after_first: JSON
    after_second: JSON
    before_teardown: JSON
    after_teardown: JSON


@pytest.fixture(scope="module")
def scenario(deployer: Deployer, fake: FakeGoogleApis, seed_file: Path, source: Path) -> Scenario:
    """Deploy with a seed, deploy again, change one setting, tear down twice."""
    fake.add_secret(PROJECT, "other-key", (b'{"apiKey": "x", "refreshToken": "y"}',))
    fake.add_secret(PROJECT, UNRELATED_SECRET, (b"not ours",))
    args = (*DEPLOY_ARGS, "--source", str(source))
    seeded = (*args, "--seed-from", str(seed_file), "--seed-secret", SECRETS[0])

    first = deployer.run(*seeded).check()
    after_first = fake.snapshot()
    second = deployer.run(*seeded).check()
    after_second = fake.snapshot()
    changed = deployer.run(*args, "--refresh-before", "36h").check()
    before_teardown = fake.snapshot()
    teardown = deployer.run(*DEPLOY_ARGS, "--teardown").check()
    after_teardown = fake.snapshot()
    teardown_again = deployer.run(*DEPLOY_ARGS, "--teardown").check()
    return Scenario(
        first,
        second,
        changed,
        teardown,
        teardown_again,
        after_first,
        after_second,
        before_teardown,
        after_teardown,
    )


def one(requests: list[RecordedRequest]) -> RecordedRequest:
    assert len(requests) == 1, [(r.method, r.path) for r in requests]
    return requests[0]


def created_function(run: Run) -> JSON:
    path = f"/v2/projects/{PROJECT}/locations/{REGION}/functions"
    body: JSON = one(run.requests_to("POST", "cloudfunctions", path)).body
    return body


# ---------------------------------------------------------------------------------- first run


def test_first_run_enables_the_apis_it_needs(scenario):
    enable = one(scenario.first.requests_to("POST", "serviceusage", r".*services:batchEnable"))
    assert set(enable.body["serviceIds"]) >= REQUIRED_APIS


def test_function_is_gen2_python_with_entry_point_rotate_and_one_instance_at_most(scenario):
    function = created_function(scenario.first)
    assert function["buildConfig"]["entryPoint"] == "rotate"
    assert function["buildConfig"]["runtime"].startswith("python3")
    service = function["serviceConfig"]
    assert service["maxInstanceCount"] == 1
    assert service["availableMemory"] == "256Mi"
    assert service["timeoutSeconds"] == 300


def test_function_runs_as_its_own_account(scenario):
    assert created_function(scenario.first)["serviceConfig"]["serviceAccountEmail"] == FUNCTION_SA
    accounts = scenario.first.requests_to("POST", "iam", rf"/v1/projects/{PROJECT}/serviceAccounts")
    assert sorted(r.body["accountId"] for r in accounts) == sorted(
        [FUNCTION_SA.partition("@")[0], SCHEDULER_SA.partition("@")[0]]
    )


def test_function_settings_reach_it_as_environment_variables(scenario):
    variables = created_function(scenario.first)["serviceConfig"]["environmentVariables"]
    assert variables == {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "ROTATION_SECRETS": ",".join(SECRETS),
        "REFRESH_BEFORE": "3d",
        "RETENTION": "7d",
        "MIN_ENABLED_VERSIONS": "1",
        "DRY_RUN": "false",
        "SECRET_MANAGER_READS_PER_MINUTE": "300",
        "SECRET_MANAGER_WRITES_PER_MINUTE": "300",
        "FUNCTION_TIMEOUT": "300s",
        "ROTATION_SCHEDULE": "0 */6 * * *",
        "ROTATION_TIME_ZONE": "Etc/UTC",
    }


def test_function_is_private_and_only_the_scheduler_account_may_invoke_it(scenario):
    """No allUsers/allAuthenticatedUsers anywhere; the Cloud Run service grants one invoker."""
    run_policies = [r for r in scenario.first.requests if r.api == "run" and r.mutating]
    assert [r.path for r in run_policies] == [
        f"/v1/projects/{PROJECT}/locations/{REGION}/services/{FUNCTION}:setIamPolicy"
    ]
    assert run_policies[0].body["policy"]["bindings"] == [
        {"role": "roles/run.invoker", "members": [f"serviceAccount:{SCHEDULER_SA}"]}
    ]
    for request in scenario.first.requests + scenario.second.requests + scenario.changed.requests:
        assert "allUsers" not in request.text()
        assert "allAuthenticatedUsers" not in request.text()


def test_custom_role_holds_exactly_the_permissions_the_code_needs(scenario):
    create = one(scenario.first.requests_to("POST", "iam", rf"/v1/projects/{PROJECT}/roles"))
    assert create.body["roleId"] == "momentoKeyRotator"
    assert set(create.body["role"]["includedPermissions"]) == ROTATOR_PERMISSIONS


def test_access_is_granted_only_on_the_named_secrets(scenario):
    """Every IAM write is the custom role for the function's account on a named secret, or the
    invoker grant on the function's own service; nothing at project level."""
    policy_writes = [r for r in scenario.first.requests if r.path.endswith(":setIamPolicy")]
    on_secrets = {
        r.path: r.body["policy"]["bindings"] for r in policy_writes if r.api == "secretmanager"
    }
    assert on_secrets == {
        f"/v1/projects/{PROJECT}/secrets/{secret}:setIamPolicy": [
            {"role": ROLE, "members": [f"serviceAccount:{FUNCTION_SA}"]}
        ]
        for secret in SECRETS
    }
    assert {r.api for r in policy_writes} == {"secretmanager", "run"}
    assert not any(UNRELATED_SECRET in r.path for r in scenario.first.requests)


def test_scheduler_job_posts_to_the_function_with_an_oidc_token_of_its_account(scenario):
    job = one(scenario.first.requests_to("POST", "cloudscheduler", r".*/jobs")).body
    url = scenario.after_first["functions"][
        f"projects/{PROJECT}/locations/{REGION}/functions/{FUNCTION}"
    ]["serviceConfig"]["uri"]
    target = job["httpTarget"]
    assert target["uri"] == url
    assert target["httpMethod"] == "POST"
    assert base64.b64decode(target["body"]) == b"{}"
    assert target["oidcToken"] == {"serviceAccountEmail": SCHEDULER_SA, "audience": url}
    assert job["schedule"] == "0 */6 * * *"
    assert job["timeZone"] == "Etc/UTC"
    assert job["retryConfig"]["retryCount"] >= 1


def test_upload_holds_the_function_and_none_of_the_dev_files(scenario):
    upload = one([r for r in scenario.first.requests if r.api == "upload"])
    files = {name for name in upload.body["zip_entries"] if not name.endswith("/")}
    assert "requirements.txt" in files
    assert all(
        name in {"main.py", "requirements.txt"}
        or name.startswith(("rotation/", "momento_key_common/"))
        for name in files
    )


def test_seed_file_becomes_the_first_version_and_appears_in_no_other_request(scenario, seed_file):
    add = one(scenario.first.requests_to("POST", "secretmanager", r".*/momento-key:addVersion"))
    assert base64.b64decode(add.body["payload"]["data"]) == seed_file.read_bytes()
    as_base64 = base64.b64encode(seed_file.read_bytes()).decode()
    everything = [scenario.first, scenario.second, scenario.changed, scenario.teardown]
    for run in everything:
        for request in run.requests:
            if request is add:
                continue
            for canary in (API_KEY_CANARY, REFRESH_CANARY, as_base64):
                assert canary not in request.text(), f"{request.method} {request.path}"
        assert API_KEY_CANARY not in run.output
        assert REFRESH_CANARY not in run.output


def test_a_seeded_refresh_token_gets_the_command_that_tests_it_and_only_when_seeded(scenario):
    """A refresh token is tested only by using it: say how, now, rather than let the next
    scheduled run find a spent one a day later."""
    command = f"python -m rotation rotate --force --project {PROJECT} --secrets {SECRETS[0]}"
    assert command in scenario.first.output
    assert command not in scenario.second.output, "the second run seeded nothing"


def test_first_run_adds_no_version_to_a_secret_that_already_has_one(scenario):
    assert not scenario.first.requests_to("POST", "secretmanager", r".*/other-key:addVersion")


# ---------------------------------------------------------------------------------- re-runs


def test_second_run_changes_nothing_and_fails_nothing(scenario):
    assert scenario.second.mutating == []
    assert scenario.after_second == scenario.after_first
    assert "up to date" in scenario.second.stdout


def test_changed_setting_redeploys_only_the_function(scenario):
    changes = [(r.method, r.api) for r in scenario.changed.mutating if r.api != "upload"]
    assert ("PATCH", "cloudfunctions") in changes
    assert {api for _, api in changes} <= {"cloudfunctions", "run"}
    name = f"projects/{PROJECT}/locations/{REGION}/functions/{FUNCTION}"
    variables = scenario.before_teardown["functions"][name]["serviceConfig"]["environmentVariables"]
    assert variables["REFRESH_BEFORE"] == "36h"


def test_fingerprint_label_fits_googles_label_rules(scenario):
    """Cloud Run functions take only valid Google Cloud labels: values of at most 63 lowercase
    letters, digits, _ and -. The fake enforces that, and the first run got through it."""
    for run in (scenario.first, scenario.changed):
        labels = created_or_patched_labels(run)
        fingerprint = labels["deploy-fingerprint"]
        assert re.fullmatch(r"[0-9a-f]{40}", fingerprint), fingerprint
        check_labels(labels)


def created_or_patched_labels(run: Run) -> dict[str, str]:
    path = f"/v2/projects/{PROJECT}/locations/{REGION}/functions(/{FUNCTION})?"
    writes = [
        r for r in run.requests if r.api == "cloudfunctions" and r.method in {"POST", "PATCH"}
    ]
    body = one([r for r in writes if re.fullmatch(path, r.path)]).body
    labels: dict[str, str] = body["labels"]
    return labels


# ---------------------------------------------------------------------------------- teardown


def test_teardown_removes_what_the_first_run_created(scenario):
    state = scenario.after_teardown
    assert state["jobs"] == {}
    assert state["functions"] == {}
    assert state["run_policies"] == {}
    assert FUNCTION_SA not in state["service_accounts"]
    assert SCHEDULER_SA not in state["service_accounts"]
    assert state["roles"][ROLE].get("deleted") is True
    for secret in SECRETS:
        key = f"projects/123456789012/secrets/{secret}"
        assert "bindings" not in state["secret_policies"][key]


def test_teardown_leaves_the_secrets_and_their_versions_alone(scenario):
    for part in ("secrets", "secret_versions"):
        assert scenario.after_teardown[part] == scenario.before_teardown[part]
    assert not [r for r in scenario.teardown.mutating if "addVersion" in r.path]
    assert not [
        r
        for r in scenario.teardown.requests
        if r.path.startswith("/v1/projects/") and r.method == "DELETE" and r.api == "secretmanager"
    ]


def test_teardown_again_finds_nothing_to_do_and_fails_nothing(scenario):
    assert scenario.teardown_again.mutating == []


# ---------------------------------------------------------------------------------- failures


def test_a_missing_secret_stops_the_deploy_before_anything_is_created(deployer, source):
    run = deployer.run("--project", PROJECT, "--secrets", "no-such-secret", "--source", str(source))
    assert run.returncode == 1
    assert "secret 'no-such-secret' does not exist" in run.stderr
    assert "--seed-from" in run.stderr
    assert [r for r in run.mutating if r.api != "serviceusage"] == []


def test_not_logged_in_fails_with_a_clear_message_before_any_request(
    gcloud, fake, fake_env, tmp_path
):
    env = {**fake_env, "CLOUDSDK_CONFIG": str(tmp_path / "empty-config")}
    run = Deployer(fake, env).run(*DEPLOY_ARGS)
    assert run.returncode == 1
    assert "gcloud is not logged in" in run.stderr
    assert "gcloud auth login" in run.stderr
    assert run.requests == []


def _path_without_gcloud(tmp_path: Path) -> str:
    """A PATH with every program of the current one except the Google Cloud CLI."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        folder = Path(directory)
        if not folder.is_dir():
            continue
        for program in folder.iterdir():
            target = bin_dir / program.name
            if program.name not in {"gcloud", "gsutil", "bq"} and not target.exists():
                target.symlink_to(program)
    return str(bin_dir)


def test_missing_gcloud_fails_with_a_clear_message(tmp_path):
    env = {**base_env(tmp_path), "PATH": _path_without_gcloud(tmp_path)}
    done = _run_deploy(*DEPLOY_ARGS, env=env)
    assert done.returncode == 1
    assert "gcloud is not installed or not on PATH" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--secrets", "momento-key"), "--project is required"),
        (("--project", PROJECT), "--secrets is required"),
        (
            (*DEPLOY_ARGS, "--refresh-before", "3 days"),
            "--refresh-before (REFRESH_BEFORE): REFRESH_BEFORE='3 days' is not valid",
        ),
        ((*DEPLOY_ARGS, "--timeout", "0"), "--timeout '0'"),
        (
            (*DEPLOY_ARGS, "--destroy-after", "soon"),
            "--destroy-after (DESTROY_AFTER): DESTROY_AFTER='soon' is not valid",
        ),
        (("--project", PROJECT, "--secrets", "projects/elsewhere/secrets/k"), "outside --project"),
        ((*DEPLOY_ARGS, "--bogus"), "unknown option: --bogus"),
    ],
    ids=[
        "no-project",
        "no-secrets",
        "bad-duration",
        "bad-timeout",
        "bad-destroy-after",
        "other-project",
        "typo",
    ],
)
def test_bad_or_missing_flags_fail_before_anything_runs(tmp_path, args, message):
    done = _run_deploy(*args, env=base_env(tmp_path))
    assert done.returncode == 2
    assert message in done.stderr
    assert "--help" in done.stderr


def _document_refusal(content: bytes) -> str:
    """What the function's own parser says about a token document."""
    try:
        check_document(content, now=datetime.now(UTC))
    except RotationError as error:
        return error.message
    pytest.fail("the function's parser accepted the document")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{not json", "not JSON"),
        (b'["apiKey"]', "not an object"),
        (json.dumps({"refreshToken": REFRESH_CANARY}).encode(), "no key"),
        (json.dumps({"apiKey": API_KEY_CANARY}).encode(), "no refreshToken"),
        (
            json.dumps({"apiKey": API_KEY_CANARY, "refreshToken": ""}).encode(),
            "no refreshToken",
        ),
        (b"\xff\xfe", "not UTF-8"),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-key",
        "no-refresh-token",
        "empty-refresh-token",
        "binary",
    ],
)
def test_malformed_seed_file_is_rejected_with_the_functions_message_before_any_request(
    fake, fake_env, tmp_path, content, words
):
    seed = tmp_path / "key.json"
    seed.write_bytes(content)
    run = Deployer(fake, fake_env).run(
        *DEPLOY_ARGS, "--seed-from", str(seed), "--seed-secret", SECRETS[0]
    )
    assert run.returncode == 2
    assert f"deploy.sh: --seed-from '{seed}': {_document_refusal(content)}\n" in run.stderr
    assert words in run.stderr
    assert run.requests == []
    assert API_KEY_CANARY not in run.output
    assert REFRESH_CANARY not in run.output


def test_seed_file_inside_the_source_folder_is_refused(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "requirements.txt").write_text("")
    (source / "main.py").write_text("")
    shutil.copytree(REPO / "rotation", source / "rotation")
    shutil.copytree(REPO / "momento_key_common", source / "momento_key_common")
    seed = source / "key.json"
    seed.write_text(json.dumps({"apiKey": API_KEY_CANARY, "refreshToken": "r"}))
    done = _run_deploy(
        "--project",
        PROJECT,
        "--secrets",
        "k",
        "--source",
        str(source),
        "--seed-from",
        str(seed),
        env=base_env(tmp_path),
    )
    assert done.returncode == 1
    assert "inside the function's source folder" in done.stderr


# ---------------------------------------------------------------------------------- dry run


def test_dry_run_prints_the_whole_plan_and_sends_nothing(fake, fake_env, seed_file):
    run = Deployer(fake, fake_env).run(
        *DEPLOY_ARGS, "--seed-from", str(seed_file), "--seed-secret", SECRETS[0], "--dry-run"
    )
    assert run.returncode == 0, run.output
    assert run.requests == []
    planned = [
        line.strip()[2:] for line in run.stdout.splitlines() if line.strip().startswith("+ gcloud")
    ]
    expected_order = [
        "gcloud services enable",
        "gcloud secrets create momento-key",
        "gcloud secrets versions add momento-key",
        "gcloud iam service-accounts create momento-key-rotator ",
        "gcloud iam service-accounts create momento-key-rotation-invoker ",
        "gcloud iam roles create momentoKeyRotator",
        "gcloud secrets add-iam-policy-binding momento-key ",
        "gcloud secrets add-iam-policy-binding other-key ",
        f"gcloud functions deploy {FUNCTION} ",
        f"gcloud run services add-iam-policy-binding {FUNCTION} ",
        f"gcloud scheduler jobs create http {FUNCTION} ",
        f"gcloud logging metrics create {FUNCTION}-failures ",
        f"gcloud logging metrics create {FUNCTION}-not-stored ",
        f"gcloud logging metrics create {FUNCTION}-results ",
        f"gcloud logging metrics create {FUNCTION}-key-lifetime ",
        "gcloud alpha monitoring policies create ",  # failed
        "gcloud alpha monitoring policies create ",  # refreshed but not stored
        "gcloud alpha monitoring policies create ",  # not running: the dead-man's switch
        "gcloud alpha monitoring policies create ",  # key expiring
        "gcloud monitoring dashboards create ",
    ]
    assert len(planned) == len(expected_order), "\n".join(planned)
    for line, start in zip(planned, expected_order, strict=True):
        assert line.startswith(start), line
    deploy = planned[8]
    for flag in (
        "--gen2",
        "--entry-point=rotate",
        "--no-allow-unauthenticated",
        f"--service-account={FUNCTION_SA}",
        "--max-instances=1",
        "--trigger-http",
    ):
        assert flag in deploy
    assert f"--oidc-service-account-email={SCHEDULER_SA}" in planned[10]
    assert f"--data-file={seed_file}" in planned[2]
    assert API_KEY_CANARY not in run.output


def test_dry_run_teardown_plans_every_removal(fake, fake_env):
    run = Deployer(fake, fake_env).run(*DEPLOY_ARGS, "--teardown", "--dry-run")
    assert run.returncode == 0, run.output
    assert run.requests == []
    planned = [
        line.strip()[2:] for line in run.stdout.splitlines() if line.strip().startswith("+ gcloud")
    ]
    assert [" ".join(line.split()[1:3]) for line in planned] == [
        "scheduler jobs",
        "functions delete",  # the event function
        "functions delete",
        "secrets update",  # the rotation schedule and topic, on each secret
        "secrets update",
        "pubsub topics",
        "secrets remove-iam-policy-binding",
        "secrets remove-iam-policy-binding",
        "projects remove-iam-policy-binding",  # the lister role
        "iam roles",
        "iam roles",
        "monitoring dashboards",
        "alpha monitoring",  # failed, not stored, not running, expiring
        "alpha monitoring",
        "alpha monitoring",
        "alpha monitoring",
        "logging metrics",  # failures, not stored, results, key lifetime
        "logging metrics",
        "logging metrics",
        "logging metrics",
        "iam service-accounts",
        "iam service-accounts",
    ]


def test_options_fall_back_to_environment_variables(tmp_path):
    env = {
        **base_env(tmp_path),
        "GOOGLE_CLOUD_PROJECT": "env-project",
        "ROTATION_SECRETS": "env-secret",
        "RETENTION": "2d",
        "ROTATION_SCHEDULE": "*/30 * * * *",
        "SECRET_MANAGER_WRITES_PER_MINUTE": "120",
    }
    done = _run_deploy("--dry-run", env=env)
    assert done.returncode == 0, done.stderr
    assert "--project=env-project" in done.stdout
    assert "ROTATION_SECRETS=env-secret@" in done.stdout
    assert "RETENTION=2d@" in done.stdout
    assert "'--schedule=*/30 * * * *'" in done.stdout
    assert "SECRET_MANAGER_WRITES_PER_MINUTE=120@FUNCTION_TIMEOUT=300s@" in done.stdout
    # The job's schedule reaches the function too.
    assert "ROTATION_SCHEDULE=*/30 * * * *@ROTATION_TIME_ZONE=Etc/UTC'" in done.stdout


def test_a_write_budget_too_small_for_the_timeout_is_warned_about(tmp_path):
    """40 secrets need 80 writes; at 2 a minute that outlasts a 300 s timeout."""
    secrets = ",".join(f"s{n}" for n in range(40))
    done = _run_deploy(
        "--dry-run",
        "--project=budget-project",
        f"--secrets={secrets}",
        "--writes-per-minute=2",
        env=base_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert "deploy.sh: warning: if all 40 secrets were due" in done.stderr
    assert "FUNCTION_TIMEOUT=5m" in done.stderr


def test_budget_flags_reach_the_function_as_its_variables(tmp_path):
    env = {**base_env(tmp_path), "SECRET_MANAGER_READS_PER_MINUTE": "100"}
    done = _run_deploy(
        "--dry-run",
        "--project=budget-project",
        "--secrets=s",
        "--reads-per-minute=200",
        "--writes-per-minute",
        "150",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "SECRET_MANAGER_READS_PER_MINUTE=200@SECRET_MANAGER_WRITES_PER_MINUTE=150" in done.stdout


# ---------------------------------------------------------------------------------- the script


def test_help_documents_every_option(tmp_path):
    done = _run_deploy("--help", env=base_env(tmp_path))
    assert done.returncode == 0
    script = DEPLOY_SH.read_text()
    options = set(re.findall(r"^\s+(--[a-z-]+)\)", script, re.MULTILINE))
    options |= set(re.findall(r"(--[a-z-]+) \| ", script))
    assert len(options) > 15
    for option in options:
        assert option in done.stdout, option


def test_deploy_sh_is_clean_under_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not on PATH; pip install -r requirements-dev.txt")
    done = subprocess.run([shellcheck, str(DEPLOY_SH)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_fake_runs_standalone_and_records_to_a_jsonl_file(tmp_path):
    record = tmp_path / "requests.jsonl"
    command = [
        sys.executable,
        "-m",
        "devtools.fake_google_apis",
        "--port",
        "0",
        "--record",
        str(record),
    ]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            match = re.fullmatch(r"fake google apis listening on (127\.0\.0\.1:\d+)\n", line)
            assert match, line
            url = f"http://{match.group(1)}/cloudresourcemanager/v1/projects/{PROJECT}"
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert json.load(answer)["projectId"] == PROJECT
        finally:
            server.terminate()
    recorded = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(r["method"], r["api"], r["path"]) for r in recorded] == [
        ("GET", "cloudresourcemanager", f"/v1/projects/{PROJECT}")
    ]


def _run_deploy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEPLOY_SH), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
