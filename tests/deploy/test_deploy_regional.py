"""deploy.sh with regional secrets (issue 17), run with the real gcloud CLI against the local fake.

A regional secret, ``projects/P/locations/L/secrets/S``, is served only by L's regional endpoint,
``secretmanager.L.rep.googleapis.com``; the global endpoint refuses its name, and the fake does
the same (its rule table). gcloud addresses one as ``gcloud secrets ... S --location=L`` but sends
that to its configured endpoint, so deploy.sh points each such command at L's endpoint. gcloud
then tunnels HTTPS to that host through its proxy, the fake, which answers as that host over
TLS; each request records the host it went to.

One scenario: global and regional secrets named, one regional secret seeded, labelled secrets
found globally and in the --locations, a rotation schedule on each; deploy again; tear down
twice. The tests are statements about the requests each run sent and the fake's state.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.fake_google_apis import JSON, PROJECT_NUMBER, FakeGoogleApis, RecordedRequest
from momento_key_common.errors import RotationError
from rotation.rules.config import load_config
from tests.keys import v1_key
from tests.readme import commands

from .conftest import DEPLOY_SH, DEPLOY_TIMEOUT_S, PROJECT, REPO, Deployer, Run, base_env

pytestmark = pytest.mark.timeout(600)

REGION = "us-central1"
EU, US, ELSEWHERE = "europe-west4", "us-central1", "us-east1"
FUNCTION = "momento-key-rotation"
FUNCTION_SA = f"momento-key-rotator@{PROJECT}.iam.gserviceaccount.com"
ROLE = f"projects/{PROJECT}/roles/momentoKeyRotator"
TOPIC = f"projects/{PROJECT}/topics/momento-key-rotation"
LABEL = {"rotation": "momento"}


def regional(location: str, secret: str) -> str:
    return f"projects/{PROJECT}/locations/{location}/secrets/{secret}"


def key(location: str | None, secret: str) -> str:
    """The fake's key for a secret: its name as Secret Manager returns it."""
    where = f"/locations/{location}" if location else ""
    return f"projects/{PROJECT_NUMBER}{where}/secrets/{secret}"


# Named: a global secret, and a regional one with the same id (a different secret), seeded.
GLOBAL_NAMED = "momento-key"
SEEDED = regional(EU, "momento-key")
# Labelled: found globally, and in each of --locations; not in a location left out of them.
LABELLED_GLOBAL = "labelled-global"
LABELLED_EU = regional(EU, "labelled-eu")
LABELLED_US = regional(US, "labelled-us")
NOT_OURS = {
    key(ELSEWHERE, "labelled-elsewhere"): "labelled, in a location not in --locations",
    key(EU, "unlabelled"): "regional, no label",
    key(US, "other-team"): "regional, another label",
}
MANAGED = {
    key(None, GLOBAL_NAMED),
    key(EU, "momento-key"),
    key(None, LABELLED_GLOBAL),
    key(EU, "labelled-eu"),
    key(US, "labelled-us"),
}
ARGS = (
    "--project",
    PROJECT,
    "--region",
    REGION,
    "--secrets",
    f"{GLOBAL_NAMED},{SEEDED}",
    "--label",
    "rotation=momento",
    "--locations",
    f"{EU},{US}",
    "--rotation-period",
    "30d",
)
API_KEY_CANARY = v1_key(exp=1_900_000_000, sub="regional-canary-3e1f")
REFRESH_CANARY = "regional-refresh-canary-9b7c"


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("downloads") / "momento-api-key.json"
    document = {"apiKey": API_KEY_CANARY, "refreshToken": REFRESH_CANARY, "validUntil": 1900000000}
    path.write_text(json.dumps(document))
    return path


@dataclass(frozen=True)
class Scenario:
    first: Run
    second: Run
    teardown: Run
    teardown_again: Run
    after_first: JSON
    after_second: JSON
    before_teardown: JSON
    after_teardown: JSON


@pytest.fixture(scope="module")
def scenario(deployer: Deployer, fake: FakeGoogleApis, source: Path, seed_file: Path) -> Scenario:
    fake.add_secret(PROJECT, GLOBAL_NAMED, (b"{}",))
    fake.add_secret(PROJECT, LABELLED_GLOBAL, (b"{}",), labels=LABEL)
    fake.add_secret(PROJECT, "labelled-eu", (b"{}",), labels=LABEL, location=EU)
    fake.add_secret(PROJECT, "labelled-us", (b"{}",), labels=LABEL, location=US)
    fake.add_secret(PROJECT, "labelled-elsewhere", (b"{}",), labels=LABEL, location=ELSEWHERE)
    fake.add_secret(PROJECT, "unlabelled", (b"{}",), location=EU)
    fake.add_secret(PROJECT, "other-team", (b"{}",), labels={"rotation": "other"}, location=US)
    deploy = (*ARGS, "--source", str(source))
    seeded = (*deploy, "--seed-from", str(seed_file), "--seed-secret", SEEDED)
    first = deployer.run(*seeded).check()
    after_first = fake.snapshot()
    second = deployer.run(*seeded).check()
    after_second = fake.snapshot()
    before_teardown = after_second  # nothing runs between them
    teardown = deployer.run(*ARGS, "--teardown").check()
    after_teardown = fake.snapshot()
    teardown_again = deployer.run(*ARGS, "--teardown").check()
    return Scenario(
        first,
        second,
        teardown,
        teardown_again,
        after_first,
        after_second,
        before_teardown,
        after_teardown,
    )


def secret_manager(run: Run, method: str, path_pattern: str) -> list[RecordedRequest]:
    return run.requests_to(method, "secretmanager", path_pattern)


def location_in_path(request: RecordedRequest) -> str | None:
    match = re.match(r"/v1/projects/[^/]+/locations/([^/]+)/secrets", request.path)
    return match[1] if match else None


# ---------------------------------------------------------------------------------- endpoints


def test_every_regional_call_goes_to_its_locations_endpoint_and_no_other(scenario):
    """A regional secret's name reaches only its own location's endpoint; global names and the
    Locations API only the global one. None was refused (the fake refuses the wrong endpoint)."""
    runs = (scenario.first, scenario.second, scenario.teardown, scenario.teardown_again)
    regional_calls = 0
    for run in runs:
        for request in run.requests:
            if request.api != "secretmanager":
                continue
            assert request.status != 400, (request.host, request.path, request.body)
            assert request.location == location_in_path(request), (request.host, request.path)
            regional_calls += request.location is not None
            if request.location:
                assert request.host == f"secretmanager.{request.location}.rep.googleapis.com"
    assert regional_calls > 20
    tunnels = [r for run in runs for r in run.requests if r.method == "CONNECT"]
    assert tunnels == [], "every tunnel went to a served location's endpoint"


def test_each_location_is_checked_with_the_locations_api_before_anything_is_created(scenario):
    checks = secret_manager(scenario.first, "GET", rf"/v1/projects/{PROJECT}/locations/[^/]+")
    assert sorted(r.path.rsplit("/", 1)[-1] for r in checks) == [EU, US]
    assert all(r.location is None and r.status == 200 for r in checks)
    last_check = max(scenario.first.requests.index(r) for r in checks)
    earlier = scenario.first.requests[:last_check]
    assert [r for r in earlier if r.mutating and r.api != "serviceusage"] == []


# ---------------------------------------------------------------------------------- seeding


def test_the_regional_seed_secret_is_created_without_replication_in_its_location(
    scenario, seed_file
):
    [create] = secret_manager(
        scenario.first, "POST", rf"/v1/projects/{PROJECT}/locations/{EU}/secrets"
    )
    assert create.query["secretId"] == ["momento-key"]
    assert create.location == EU
    assert "replication" not in (create.body or {})
    [add] = secret_manager(scenario.first, "POST", r".*/secrets/momento-key:addVersion")
    assert add.path == f"/v1/{SEEDED}:addVersion"
    assert add.location == EU
    assert base64.b64decode(add.body["payload"]["data"]) == seed_file.read_bytes()
    # The global secret with the same id is another secret: it got no version.
    assert len(scenario.after_first["secret_versions"][key(None, GLOBAL_NAMED)]) == 1
    assert len(scenario.after_first["secret_versions"][key(EU, "momento-key")]) == 1
    assert "replication" not in scenario.after_first["secrets"][key(EU, "momento-key")]


def test_the_seeded_regional_secret_is_tested_by_its_full_name(scenario):
    command = f"python -m rotation rotate --force --project {PROJECT} --secrets {SEEDED}"
    assert command in scenario.first.output
    assert API_KEY_CANARY not in scenario.first.output + scenario.second.output


# ---------------------------------------------------------------------------------- grants


def test_the_role_is_granted_on_each_named_and_labelled_secret_global_and_regional(scenario):
    writes = secret_manager(scenario.first, "POST", r".*:setIamPolicy")
    granted = {key(location_in_path(r), r.path.rsplit("/", 1)[-1].split(":")[0]) for r in writes}
    assert granted == MANAGED
    for write in writes:
        assert write.body["policy"]["bindings"] == [
            {"role": ROLE, "members": [f"serviceAccount:{FUNCTION_SA}"]}
        ]
    for name, why in NOT_OURS.items():
        assert "bindings" not in scenario.after_first["secret_policies"][name], why


def test_labelled_regional_secrets_are_listed_per_location_of_locations_only(scenario):
    listings = secret_manager(
        scenario.first, "GET", r"/v1/projects/[^/]+(/locations/[^/]+)?/secrets"
    )
    assert sorted(str(r.location) for r in listings) == sorted(["None", EU, US])
    assert {r.query["filter"][0] for r in listings} == {"labels.rotation=momento"}


def test_the_function_gets_the_regional_names_as_given_and_the_locations(scenario):
    [create] = [
        r
        for r in scenario.first.requests
        if r.api == "cloudfunctions"
        and r.method == "POST"
        and r.query.get("functionId") == [FUNCTION]
    ]
    variables = create.body["serviceConfig"]["environmentVariables"]
    assert variables["ROTATION_SECRETS"] == f"{GLOBAL_NAMED},{SEEDED}"
    assert variables["ROTATION_LABEL"] == "rotation=momento"
    assert variables["ROTATION_LOCATIONS"] == f"{EU},{US}"
    load_config(variables)  # the function's own parser takes them


# ---------------------------------------------------------------------------------- schedules


def test_each_managed_secret_global_or_regional_gets_the_rotation_schedule(scenario):
    patches = secret_manager(scenario.first, "PATCH", r".*/secrets/[^/:]+")
    scheduled = {key(location_in_path(r), r.path.rsplit("/", 1)[-1]) for r in patches}
    assert scheduled == MANAGED
    for patch in patches:
        assert patch.body["topics"] == [{"name": TOPIC}]
        assert patch.body["rotation"]["rotationPeriod"] == f"{30 * 86400}s"
    for name in MANAGED:
        assert scenario.after_first["secrets"][name]["topics"] == [{"name": TOPIC}]
    for name in NOT_OURS:
        assert "rotation" not in scenario.after_first["secrets"][name]


# ---------------------------------------------------------------------------------- re-runs


def test_a_second_run_changes_nothing(scenario):
    assert scenario.second.mutating == []
    assert scenario.after_second == scenario.after_first


def test_teardown_removes_the_grants_and_schedules_from_regional_secrets_too(scenario):
    state = scenario.after_teardown
    for name in MANAGED:
        assert "rotation" not in state["secrets"][name], name
        assert "topics" not in state["secrets"][name], name
        assert "bindings" not in state["secret_policies"][name], name
    assert state["secret_versions"] == scenario.before_teardown["secret_versions"]
    assert set(state["secrets"]) == set(scenario.before_teardown["secrets"])
    assert scenario.teardown_again.mutating == []


# ---------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--secrets", f"momento-key,{regional('xx-north9', 'k')}"), "secret '"),
        (("--label", "rotation=momento", "--locations", f"{EU},xx-north9"), "--locations"),
    ],
    ids=["secret", "locations"],
)
def test_a_location_secret_manager_does_not_serve_is_refused_before_anything_is_created(
    deployer: Deployer, args, named
):
    run = deployer.run("--project", PROJECT, *args)
    assert run.returncode == 1, run.output
    message = run.stderr
    assert "Secret Manager does not serve location 'xx-north9'" in message
    assert named in message
    if named.startswith("secret"):
        assert f"secret '{regional('xx-north9', 'k')}' (--secrets, ROTATION_SECRETS)" in message
    assert f"gcloud secrets locations list --project {PROJECT}" in message
    assert [r for r in run.mutating if r.api != "serviceusage"] == []
    assert not [r for r in run.requests if "xx-north9" in r.host], "its endpoint was never called"
    [check] = [r for r in run.requests if r.path.endswith("/locations/xx-north9")]
    assert (check.api, check.location, check.status) == ("secretmanager", None, 404)


def test_teardown_refuses_an_unserved_location_before_removing_anything(deployer: Deployer):
    run = deployer.run("--project", PROJECT, "--secrets", regional("xx-north9", "k"), "--teardown")
    assert run.returncode == 1, run.output
    assert "Secret Manager does not serve location 'xx-north9'" in run.stderr
    assert run.mutating == []


def _config_refusal(variables: dict[str, str]) -> str:
    try:
        load_config({"GOOGLE_CLOUD_PROJECT": PROJECT, **variables})
    except RotationError as error:
        return error.message
    pytest.fail(f"the function's parser accepted {variables}")


@pytest.mark.parametrize(
    ("args", "flag", "variables"),
    [
        (
            ("--secrets", regional("US_Central", "k")),
            "--secrets (ROTATION_SECRETS)",
            {"ROTATION_SECRETS": regional("US_Central", "k")},
        ),
        (
            ("--label", "a=b", "--locations", "Bad_Loc"),
            "--locations (ROTATION_LOCATIONS)",
            {"ROTATION_LABEL": "a=b", "ROTATION_LOCATIONS": "Bad_Loc"},
        ),
        (
            ("--secrets", "k", "--locations", EU),
            "--locations (ROTATION_LOCATIONS)",
            {"ROTATION_SECRETS": "k", "ROTATION_LOCATIONS": EU},
        ),
    ],
    ids=["malformed-location-in-a-name", "malformed-location", "locations-without-label"],
)
def test_a_malformed_location_is_refused_with_the_functions_message_before_any_request(
    deployer: Deployer, args, flag, variables
):
    run = deployer.run("--project", PROJECT, *args)
    assert run.returncode == 2, run.output
    assert f"deploy.sh: {flag}: {_config_refusal(variables)}\n" in run.stderr
    assert run.requests == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--secrets", "projects/elsewhere/locations/europe-west4/secrets/k"), "outside --project"),
        (
            ("--secrets", regional(EU, "k"), "--seed-from", "x.json", "--seed-secret", "k"),
            "a short name is a global secret: name a regional one in full",
        ),
    ],
    ids=["other-project", "seed-secret-short-name"],
)
def test_regional_names_deploy_sh_cannot_use_are_refused_before_any_request(tmp_path, args, words):
    done = subprocess.run(
        [str(DEPLOY_SH), "--project", PROJECT, *args],
        env=base_env(tmp_path),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert words in done.stderr


# ---------------------------------------------------------------------------------- dry run, help


def test_dry_run_shows_each_regional_command_with_its_endpoint_and_sends_nothing(
    fake: FakeGoogleApis, fake_env: dict[str, str]
):
    run = Deployer(fake, fake_env).run(*ARGS, "--dry-run")
    assert run.returncode == 0, run.output
    assert run.requests == []
    lines = [line.strip() for line in run.stdout.splitlines() if line.strip()[:1] in "+?"]
    eu = f"CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER=https://secretmanager.{EU}.rep.googleapis.com/"
    for expected in (
        f"? gcloud secrets locations describe {EU} --project={PROJECT}",
        f"? gcloud secrets locations describe {US} --project={PROJECT}",
        f"? {eu} gcloud secrets describe momento-key --location={EU} --project={PROJECT}",
        f"? {eu} gcloud secrets list --location={EU} --project={PROJECT}",
        f"+ {eu} gcloud secrets add-iam-policy-binding momento-key --location={EU} ",
        f"+ {eu} gcloud secrets update momento-key --location={EU} --project={PROJECT} "
        f"--add-topics={TOPIC}",
        f"+ {eu} gcloud secrets add-iam-policy-binding SECRET_WITH_LABEL --location={EU} ",
    ):
        assert any(line.startswith(expected) for line in lines), expected
    # Global secrets and the Locations API stay on the configured endpoint.
    for line in lines:
        if " gcloud secrets " in f" {line}" and "--location=" not in line:
            assert "CLOUDSDK_API_ENDPOINT_OVERRIDES" not in line, line


def test_help_and_readme_show_a_regional_example(tmp_path):
    done = subprocess.run(
        [str(DEPLOY_SH), "--help"],
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    example = "--secrets projects/my-project/locations/europe-west4/secrets/momento-api-key"
    assert example in done.stdout
    assert "--locations LIST" in done.stdout
    readme = (REPO / "README.md").read_text()
    deploy_section = readme.split("## Deploy to Google Cloud", 1)[1].split("## Development", 1)[0]
    assert example in deploy_section


def test_the_readme_regional_commands_plan_the_regional_steps_and_send_nothing(
    fake: FakeGoogleApis, fake_env: dict[str, str], tmp_path: Path, gcloud: str
) -> None:
    """The README block, run as written (with --dry-run appended)."""
    blocks = commands("deploy-regional")
    assert blocks, "README.md has no readme-test: deploy-regional block"
    mark = fake.mark()
    for command in blocks:
        assert command.startswith("./deploy.sh "), command
        done = subprocess.run(
            ["bash", "-c", f"{command} --dry-run"],
            cwd=REPO,
            env={**fake_env, "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=DEPLOY_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "gcloud secrets locations describe europe-west4" in done.stdout
        assert (
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER="
            "https://secretmanager.europe-west4.rep.googleapis.com/ gcloud secrets" in done.stdout
        )
    assert fake.since(mark) == []
