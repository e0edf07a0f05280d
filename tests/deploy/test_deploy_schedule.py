"""deploy.sh's native rotation schedule, label discovery and alerting (issue #10), run with the
real gcloud CLI against the local fake.

One scenario: deploy with ``--rotation-period``, ``--label`` and ``--alert-channel``; deploy
again; drop the scheduler job; change the alert channel; tear down twice. The tests are
statements about the requests each run sent and the fake's state after it.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devtools.fake_google_apis import JSON, PROJECT_NUMBER, FakeGoogleApis
from tests.readme import commands

from .conftest import DEPLOY_TIMEOUT_S, PROJECT, REPO, Deployer, Run

pytestmark = pytest.mark.timeout(600)

REGION = "us-central1"
FUNCTION = "momento-key-rotation"
EVENT_FUNCTION = f"{FUNCTION}-event"
FUNCTION_SA = f"momento-key-rotator@{PROJECT}.iam.gserviceaccount.com"
INVOKER_SA = f"momento-key-rotation-invoker@{PROJECT}.iam.gserviceaccount.com"
AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-secretmanager.iam.gserviceaccount.com"
TOPIC = f"projects/{PROJECT}/topics/momento-key-rotation"
LISTER_ROLE = f"projects/{PROJECT}/roles/momentoKeySecretLister"
ROTATOR_ROLE = f"projects/{PROJECT}/roles/momentoKeyRotator"
CHANNEL = f"projects/{PROJECT}/notificationChannels/42"
OTHER_CHANNEL = f"projects/{PROJECT}/notificationChannels/43"
NAMED = "momento-key"
LABELLED = ("labelled-a", "labelled-b")
NOT_OURS = ("other-team", "unlabelled")
MANAGED = (NAMED, *LABELLED)
BASE_ARGS = ("--project", PROJECT, "--region", REGION)
ARGS = (
    *BASE_ARGS,
    "--secrets",
    NAMED,
    "--label",
    "rotation=momento",
    "--rotation-period",
    "30d",
)


@dataclass(frozen=True)
class Scenario:
    started: datetime
    first: Run
    second: Run
    no_scheduler: Run
    new_channel: Run
    teardown: Run
    teardown_again: Run
    after_first: JSON
    after_second: JSON
    before_teardown: JSON
    after_teardown: JSON


@pytest.fixture(scope="module")
def scenario(deployer: Deployer, fake: FakeGoogleApis, source: Path) -> Scenario:
    fake.add_secret(PROJECT, NAMED, (b"{}",))
    for name in LABELLED:
        fake.add_secret(PROJECT, name, (b"{}",), labels={"rotation": "momento"})
    fake.add_secret(PROJECT, "other-team", (b"{}",), labels={"rotation": "other"})
    fake.add_secret(PROJECT, "unlabelled", (b"{}",))
    deploy = (*ARGS, "--source", str(source))
    started = datetime.now(UTC)
    first = deployer.run(*deploy, "--alert-channel", CHANNEL).check()
    after_first = fake.snapshot()
    second = deployer.run(*deploy, "--alert-channel", CHANNEL).check()
    after_second = fake.snapshot()
    no_scheduler = deployer.run(*deploy, "--alert-channel", CHANNEL, "--no-scheduler").check()
    new_channel = deployer.run(*deploy, "--alert-channel", OTHER_CHANNEL, "--no-scheduler").check()
    before_teardown = fake.snapshot()
    teardown = deployer.run(*ARGS, "--teardown").check()
    after_teardown = fake.snapshot()
    teardown_again = deployer.run(*ARGS, "--teardown").check()
    return Scenario(
        started,
        first,
        second,
        no_scheduler,
        new_channel,
        teardown,
        teardown_again,
        after_first,
        after_second,
        before_teardown,
        after_teardown,
    )


def created_function(run: Run, name: str) -> JSON:
    [create] = [
        r
        for r in run.requests_to("POST", "cloudfunctions", rf"/v2/projects/{PROJECT}/.*/functions")
        if r.query.get("functionId") == [name]
    ]
    body: JSON = create.body
    return body


# ---------------------------------------------------------------------------------- topic


def test_topic_is_created_and_only_secret_managers_agent_may_publish(scenario):
    [create] = scenario.first.requests_to("PUT", "pubsub", f"/v1/{TOPIC}")
    assert create.body == {"name": TOPIC}
    [grant] = scenario.first.requests_to("POST", "pubsub", f"/v1/{TOPIC}:setIamPolicy")
    assert grant.body["policy"]["bindings"] == [
        {"role": "roles/pubsub.publisher", "members": [f"serviceAccount:{AGENT}"]}
    ]
    identity = [r for r in scenario.first.mutating if "generateServiceIdentity" in r.path]
    assert [r.path for r in identity] == [
        f"/v1beta1/projects/{PROJECT}/services/secretmanager.googleapis.com:generateServiceIdentity"
    ]
    # No publisher grant anywhere else: the only project-level write is the lister role.
    project_writes = scenario.first.requests_to("POST", "cloudresourcemanager", r".*:setIamPolicy")
    assert [b["role"] for r in project_writes for b in r.body["policy"]["bindings"]] == [
        LISTER_ROLE
    ]


def test_schedule_apis_are_enabled(scenario):
    [enable] = scenario.first.requests_to("POST", "serviceusage", r".*services:batchEnable")
    assert {"pubsub.googleapis.com", "eventarc.googleapis.com"} <= set(enable.body["serviceIds"])
    assert {"logging.googleapis.com", "monitoring.googleapis.com"} <= set(enable.body["serviceIds"])


# ---------------------------------------------------------------------------------- schedule


def test_each_managed_secret_gets_the_schedule_after_the_grant_and_none_other(scenario):
    patches = scenario.first.requests_to(
        "PATCH", "secretmanager", r"/v1/projects/.*/secrets/[^/:]+"
    )
    assert sorted(r.path.rsplit("/", 1)[-1] for r in patches) == sorted(MANAGED)
    for patch in patches:
        assert patch.query["updateMask"] == [
            "rotation.next_rotation_time,rotation.rotation_period,topics"
        ]
        assert patch.body["topics"] == [{"name": TOPIC}]
        rotation = patch.body["rotation"]
        assert rotation["rotationPeriod"] == f"{30 * 86400}s"
        when = datetime.fromisoformat(rotation["nextRotationTime"].replace("Z", "+00:00"))
        assert scenario.started + timedelta(minutes=55) <= when
        assert when <= datetime.now(UTC) + timedelta(minutes=65)
    # The publisher grant comes before any schedule points at the topic.
    order = [r.path for r in scenario.first.mutating]
    grant = order.index(f"/v1/{TOPIC}:setIamPolicy")
    assert all(order.index(p.path) > grant for p in patches)
    for name in NOT_OURS:
        key = f"projects/{PROJECT_NUMBER}/secrets/{name}"
        assert "rotation" not in scenario.after_first["secrets"][key]


# ---------------------------------------------------------------------------------- event function


def test_event_function_is_a_private_pubsub_triggered_copy_with_retries(scenario):
    event = created_function(scenario.first, EVENT_FUNCTION)
    http = created_function(scenario.first, FUNCTION)
    assert event["buildConfig"]["entryPoint"] == "rotate_event"
    assert event["eventTrigger"] == {
        "eventType": "google.cloud.pubsub.topic.v1.messagePublished",
        "pubsubTopic": TOPIC,
        "retryPolicy": "RETRY_POLICY_RETRY",
        "serviceAccountEmail": INVOKER_SA,
    }
    assert event["serviceConfig"]["serviceAccountEmail"] == FUNCTION_SA
    assert (
        event["serviceConfig"]["environmentVariables"]
        == (http["serviceConfig"]["environmentVariables"])
    )
    assert event["buildConfig"]["runtime"] == http["buildConfig"]["runtime"]
    path = f"/v1/projects/{PROJECT}/locations/{REGION}/services/{EVENT_FUNCTION}:setIamPolicy"
    [grant] = scenario.first.requests_to("POST", "run", path)
    assert grant.body["policy"]["bindings"] == [
        {"role": "roles/run.invoker", "members": [f"serviceAccount:{INVOKER_SA}"]}
    ]
    name = f"projects/{PROJECT}/locations/{REGION}/functions/{EVENT_FUNCTION}"
    assert scenario.after_first["functions"][name]["eventTrigger"]["trigger"]


# ---------------------------------------------------------------------------------- label


def test_label_discovery_grants_exactly_the_named_and_labelled_secrets(scenario):
    grants = scenario.first.requests_to("POST", "secretmanager", r".*/secrets/[^/]+:setIamPolicy")
    assert sorted(r.path.split("/")[-1].removesuffix(":setIamPolicy") for r in grants) == sorted(
        MANAGED
    )
    for grant in grants:
        assert grant.body["policy"]["bindings"] == [
            {"role": ROTATOR_ROLE, "members": [f"serviceAccount:{FUNCTION_SA}"]}
        ]
    [listing] = [
        r for r in scenario.first.requests if r.method == "GET" and r.path.endswith("/secrets")
    ]
    assert listing.query["filter"] == ["labels.rotation=momento"]


def test_the_function_may_list_secrets_through_a_minimal_project_role(scenario):
    roles = scenario.first.requests_to("POST", "iam", rf"/v1/projects/{PROJECT}/roles")
    [lister] = [r.body for r in roles if r.body["roleId"] == "momentoKeySecretLister"]
    assert lister["role"]["includedPermissions"] == ["secretmanager.secrets.list"]
    policy = scenario.after_first["project_policies"][PROJECT]
    assert policy["bindings"] == [
        {"role": LISTER_ROLE, "members": [f"serviceAccount:{FUNCTION_SA}"]}
    ]
    env = created_function(scenario.first, FUNCTION)["serviceConfig"]["environmentVariables"]
    assert env["ROTATION_LABEL"] == "rotation=momento"
    assert env["ROTATION_SECRETS"] == NAMED


# ---------------------------------------------------------------------------------- alerting


def test_metrics_count_the_results_of_both_functions(scenario):
    metrics = {
        r.body["name"]: r.body["filter"]
        for r in scenario.first.requests_to("POST", "logging", rf"/v2/projects/{PROJECT}/metrics")
    }
    assert set(metrics) == {
        f"{FUNCTION}-failures",
        f"{FUNCTION}-not-stored",
        f"{FUNCTION}-results",
        f"{FUNCTION}-key-lifetime",
    }
    for text in metrics.values():
        assert 'resource.type="cloud_run_revision"' in text
        assert f'resource.labels.service_name=("{FUNCTION}" OR "{EVENT_FUNCTION}")' in text
        assert 'jsonPayload.event="rotation.result"' in text
    assert metrics[f"{FUNCTION}-failures"].endswith("severity>=ERROR")
    assert metrics[f"{FUNCTION}-not-stored"].endswith("severity=CRITICAL")


def test_the_failure_policies_notify_the_channel_and_the_not_stored_one_is_critical(scenario):
    created = scenario.first.requests_to(
        "POST", "monitoring", rf"/v3/projects/{PROJECT}/alertPolicies"
    )
    assert all(r.body["notificationChannels"] == [CHANNEL] for r in created)
    by_title = {r.body["displayName"]: r.body for r in created}
    assert len(by_title) == 4  # failed, not stored, not running, key expiring
    by_severity = {
        "ERROR": by_title[f"Momento key rotation failed ({FUNCTION})"],
        "CRITICAL": by_title[f"Momento key refreshed but not stored ({FUNCTION})"],
    }
    for severity, metric in (("ERROR", "failures"), ("CRITICAL", "not-stored")):
        policy = by_severity[severity]
        assert policy["severity"] == severity
        assert policy["notificationChannels"] == [CHANNEL]
        [condition] = policy["conditions"]
        threshold = condition["conditionThreshold"]
        assert f'logging.googleapis.com/user/{FUNCTION}-{metric}"' in threshold["filter"]
        assert threshold["comparison"] == "COMPARISON_GT"
        assert threshold["thresholdValue"] == 0
    assert "refreshed_not_stored" in by_severity["CRITICAL"]["documentation"]["content"]


def test_a_new_channel_updates_only_the_policies(scenario):
    """Failed, not stored and key expiring (with --no-scheduler there is no dead-man's switch);
    the dashboard names the same policies, so it stays as it is."""
    changes = [(r.method, r.api, r.path.split("/")[1]) for r in scenario.new_channel.mutating]
    assert changes == [("PATCH", "monitoring", "v3")] * 3
    for policy in scenario.before_teardown["alert_policies"].values():
        assert policy["notificationChannels"] == [OTHER_CHANNEL]


# ---------------------------------------------------------------------------------- re-runs


def test_second_run_changes_nothing(scenario):
    assert scenario.second.mutating == []
    assert scenario.after_second == scenario.after_first
    assert "up to date" in scenario.second.stdout


def test_no_scheduler_deletes_the_job_and_turns_the_dead_mans_switch_off(scenario):
    """Without the job there is no schedule to pass to the functions (so both are redeployed)
    and no heartbeat to listen for: the absence policy goes, and the dashboard says why."""
    changes = {(r.method, r.api) for r in scenario.no_scheduler.mutating}
    assert changes - {("POST", "run")} == {  # a redeploy may rewrite the invoker policy
        ("DELETE", "cloudscheduler"),
        ("PUT", "upload"),
        ("PATCH", "cloudfunctions"),
        ("DELETE", "monitoring"),
        ("PATCH", "monitoring"),
    }
    [deleted] = [
        r for r in scenario.no_scheduler.mutating if r.method == "DELETE" and r.api == "monitoring"
    ]
    assert deleted.path.startswith(f"/v3/projects/{PROJECT}/alertPolicies/")
    [dashboard] = [
        r for r in scenario.no_scheduler.mutating if r.method == "PATCH" and r.api == "monitoring"
    ]
    assert dashboard.path == f"/v1/projects/{PROJECT}/dashboards/{FUNCTION}"
    assert "no dead-man's switch (--no-scheduler" in json.dumps(dashboard.body)
    assert "no dead-man's switch: --no-scheduler" in scenario.no_scheduler.stdout
    for function in scenario.before_teardown["functions"].values():
        assert "ROTATION_SCHEDULE" not in function["serviceConfig"]["environmentVariables"]
    titles = {p["displayName"] for p in scenario.before_teardown["alert_policies"].values()}
    assert f"Momento key rotation not running ({FUNCTION})" not in titles


# ---------------------------------------------------------------------------------- teardown


def test_teardown_removes_everything_new_and_leaves_the_secrets(scenario):
    state = scenario.after_teardown
    assert state["functions"] == {}
    assert state["topics"] == {}
    assert state["topic_policies"] == {}
    assert state["log_metrics"] == {}
    assert state["alert_policies"] == {}
    assert state["dashboards"] == {}
    assert "bindings" not in state["project_policies"][PROJECT]
    assert state["roles"][LISTER_ROLE].get("deleted") is True
    assert state["roles"][ROTATOR_ROLE].get("deleted") is True
    assert state["secret_versions"] == scenario.before_teardown["secret_versions"]
    for name in (*MANAGED, *NOT_OURS):
        key = f"projects/{PROJECT_NUMBER}/secrets/{name}"
        secret = state["secrets"][key]
        assert "rotation" not in secret
        assert "topics" not in secret
        assert secret.get("labels") == scenario.before_teardown["secrets"][key].get("labels")
        assert "bindings" not in state["secret_policies"][key]


def test_teardown_removes_schedules_before_deleting_the_topic(scenario):
    order = [(r.method, r.api, r.path) for r in scenario.teardown.mutating]
    topic_delete = order.index(("DELETE", "pubsub", f"/v1/{TOPIC}"))
    schedule_removals = [
        i for i, (method, api, _) in enumerate(order) if (method, api) == ("PATCH", "secretmanager")
    ]
    assert len(schedule_removals) == len(MANAGED)
    assert max(schedule_removals) < topic_delete


def test_teardown_again_changes_nothing(scenario):
    assert scenario.teardown_again.mutating == []


# ---------------------------------------------------------------------------------- dry run


def test_dry_run_plans_the_schedule_label_and_alerting_and_sends_nothing(fake, fake_env):
    run = Deployer(fake, fake_env).run(*ARGS, "--alert-channel", CHANNEL, "--dry-run")
    assert run.returncode == 0, run.output
    assert run.requests == []
    planned = [line.strip()[2:] for line in run.stdout.splitlines() if line.strip()[:1] in "+?"]
    for start in (
        "gcloud secrets list --project=demo-project --filter=labels.rotation=momento",
        "gcloud projects add-iam-policy-binding demo-project",
        "gcloud pubsub topics create momento-key-rotation",
        "gcloud beta services identity create --service=secretmanager.googleapis.com",
        "gcloud pubsub topics add-iam-policy-binding momento-key-rotation",
        f"gcloud functions deploy {EVENT_FUNCTION} ",
        f"gcloud run services add-iam-policy-binding {EVENT_FUNCTION} ",
        f"gcloud secrets update {NAMED} --project=demo-project --add-topics={TOPIC}",
        f"gcloud logging metrics create {FUNCTION}-failures",
        "gcloud alpha monitoring policies create",
    ):
        assert any(line.startswith(start) for line in planned), start
    assert CHANNEL in run.stdout


# ---------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--secrets", NAMED, "--rotation-period", "30m"), "--rotation-period '30m'"),
        (("--secrets", NAMED, "--rotation-period", "101y"), "--rotation-period '101y'"),
        (("--secrets", NAMED, "--rotation-period", "36500001d"), "--rotation-period"),
        (("--label", "Team=x"), "--label (ROTATION_LABEL): ROTATION_LABEL='Team=x'"),
        (("--label", "novalue"), "--label (ROTATION_LABEL)"),
        (("--secrets", NAMED, "--alert-channel", "42"), "--alert-channel '42'"),
        (
            ("--secrets", NAMED, "--alert-channel", f"projects/{PROJECT}/channels/42"),
            "--alert-channel",
        ),
        (("--secrets", NAMED, "--rotation-period", "1d", "--topic", "goog-x"), "--topic"),
        (("--secrets", NAMED, "--rotation-period", "1d", "--topic", "ab"), "--topic 'ab'"),
        (("--secrets", NAMED, "--no-scheduler"), "--no-scheduler needs --rotation-period"),
        (("--secrets", NAMED, "--rotation-period", "1d", "--timeout", "600"), "--timeout '600'"),
    ],
    ids=[
        "period-under-1h",
        "period-unit",
        "period-over-100y",
        "label-uppercase",
        "label-no-value",
        "channel-bare-id",
        "channel-form",
        "topic-goog",
        "topic-short",
        "no-scheduler-alone",
        "event-timeout",
    ],
)
def test_bad_values_are_refused_before_any_request(fake, fake_env, args, words):
    run = Deployer(fake, fake_env).run(*BASE_ARGS, *args)
    assert run.returncode == 2, run.output
    assert words in run.stderr
    assert run.requests == []


def test_label_alone_is_enough_and_falls_back_to_its_environment_variable(fake, fake_env):
    env = {**fake_env, "ROTATION_LABEL": "rotation=momento", "ROTATION_PERIOD": "720h"}
    run = Deployer(fake, env).run(*BASE_ARGS, "--dry-run")
    assert run.returncode == 0, run.output
    assert "ROTATION_LABEL=rotation=momento@" in run.stdout
    assert "ROTATION_SECRETS=" not in run.stdout
    assert f"--rotation-period={720 * 3600}s" in run.stdout
    # The plan shows the steps each labelled secret will get.
    for step in ("secrets add-iam-policy-binding", "secrets update"):
        assert f"+ gcloud {step} SECRET_WITH_LABEL " in run.stdout


# ---------------------------------------------------------------------------------- README


def test_the_readme_schedule_commands_plan_everything_and_send_nothing(
    fake: FakeGoogleApis, fake_env: dict[str, str], tmp_path: Path, gcloud: str
) -> None:
    """The README block, run as written (with --dry-run appended where it is not one)."""
    blocks = commands("deploy-schedule")
    assert blocks, "README.md has no readme-test: deploy-schedule block"
    mark = fake.mark()
    for command in blocks:
        assert command.startswith("./deploy.sh "), command
        dry = command if "--dry-run" in command.split() else f"{command} --dry-run"
        done = subprocess.run(
            ["bash", "-c", dry],
            cwd=REPO,
            env={**fake_env, "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=DEPLOY_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "+ gcloud" in done.stdout
    assert fake.since(mark) == []
