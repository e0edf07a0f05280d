"""deploy.sh's dead-man's switch, key-lifetime alert and dashboard (issue #20), run with the real
gcloud CLI against the local fake.

One scenario: deploy (Cloud Monitoring takes a few seconds to learn the new log-based metrics, so
the first policy is refused once and retried); deploy again; move to a daily schedule, too sparse
for the switch; change the key-lifetime threshold; tear down twice. The tests are statements
about the requests each run sent and the fake's state after it. The Python snippets deploy.sh
embeds (the schedule's interval, the status report) are also run on their own.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devtools.fake_google_apis import JSON, FakeGoogleApis

from .conftest import DEPLOY_SH, PROJECT, REPO, Deployer, Run, base_env

pytestmark = pytest.mark.timeout(600)

REGION = "us-central1"
FUNCTION = "momento-key-rotation"
SECRETS = ("momento-key", "other-key")
ARGS = ("--project", PROJECT, "--region", REGION, "--secrets", ",".join(SECRETS))
RESULTS_METRIC = f"{FUNCTION}-results"
LIFETIME_METRIC = f"{FUNCTION}-key-lifetime"
POLICIES = {
    "failed": f"Momento key rotation failed ({FUNCTION})",
    "not_stored": f"Momento key refreshed but not stored ({FUNCTION})",
    "not_running": f"Momento key rotation not running ({FUNCTION})",
    "expiring": f"Momento key expiring ({FUNCTION})",
}
DASHBOARD = f"projects/{PROJECT}/dashboards/{FUNCTION}"
SIX_HOURS_PLUS_ONE = 7 * 3600


@dataclass(frozen=True)
class Scenario:
    first: Run
    second: Run
    drifted: Run
    daily: Run
    threshold: Run
    teardown: Run
    teardown_again: Run
    after_first: JSON
    after_second: JSON
    after_daily: JSON
    before_teardown: JSON
    after_teardown: JSON


@pytest.fixture(scope="module")
def scenario(deployer: Deployer, fake: FakeGoogleApis, source: Path) -> Scenario:
    for secret in SECRETS:
        fake.add_secret(PROJECT, secret, (b"{}",))
    deploy = (*ARGS, "--source", str(source))
    fake.metric_unknown_writes = 1
    try:
        first = deployer.run(*deploy)
    finally:
        fake.metric_unknown_writes = 0
    assert first.returncode == 0, first.output
    after_first = fake.snapshot()
    second = deployer.run(*deploy).check()
    after_second = fake.snapshot()
    # Someone edits the histogram's buckets and a chart's title in the console.
    fake.log_metrics[f"projects/{PROJECT}/metrics/{LIFETIME_METRIC}"]["bucketOptions"] = {
        "linearBuckets": {"numFiniteBuckets": 10, "width": 3600}
    }
    fake.dashboards[DASHBOARD]["mosaicLayout"]["tiles"][0]["widget"]["title"] = "mine now"
    drifted = deployer.run(*deploy).check()
    daily = deployer.run(*deploy, "--schedule", "0 3 * * *").check()
    after_daily = fake.snapshot()
    threshold = deployer.run(
        *deploy, "--schedule", "0 3 * * *", "--alert-expiry-below", "2d"
    ).check()
    before_teardown = fake.snapshot()
    teardown = deployer.run(*ARGS, "--teardown").check()
    after_teardown = fake.snapshot()
    teardown_again = deployer.run(*ARGS, "--teardown").check()
    return Scenario(
        first,
        second,
        drifted,
        daily,
        threshold,
        teardown,
        teardown_again,
        after_first,
        after_second,
        after_daily,
        before_teardown,
        after_teardown,
    )


def created_metric(run: Run, name: str) -> JSON:
    [create] = [
        r
        for r in run.requests_to("POST", "logging", rf"/v2/projects/{PROJECT}/metrics")
        if r.body["name"] == name
    ]
    body: JSON = create.body
    return body


def policies_by_title(state: JSON) -> dict[str, JSON]:
    return {p["displayName"]: p for p in state["alert_policies"].values()}


def condition(policy: JSON) -> JSON:
    [only] = policy["conditions"]
    return only


# ---------------------------------------------------------------------------------- the schedule


def test_the_function_is_told_the_jobs_schedule(scenario):
    [function] = scenario.after_first["functions"].values()
    env = function["serviceConfig"]["environmentVariables"]
    assert env["ROTATION_SCHEDULE"] == "0 */6 * * *"
    assert env["ROTATION_TIME_ZONE"] == "Etc/UTC"
    [job] = scenario.after_first["jobs"].values()
    assert (job["schedule"], job["timeZone"]) == (
        env["ROTATION_SCHEDULE"],
        env["ROTATION_TIME_ZONE"],
    )


# ---------------------------------------------------------------------------------- the metrics


def test_results_are_counted_by_action_and_severity(scenario):
    metric = created_metric(scenario.first, RESULTS_METRIC)
    assert 'jsonPayload.event="rotation.result"' in metric["filter"]
    assert "severity" not in metric["filter"]  # every result, not only the failed ones
    descriptor = metric["metricDescriptor"]
    assert (descriptor["metricKind"], descriptor["valueType"]) == ("DELTA", "INT64")
    assert [label["key"] for label in descriptor["labels"]] == ["action", "severity"]
    assert metric["labelExtractors"] == {
        "action": "EXTRACT(jsonPayload.action)",
        "severity": "EXTRACT(severity)",
    }


def test_each_keys_remaining_lifetime_is_a_distribution_by_secret(scenario):
    metric = created_metric(scenario.first, LIFETIME_METRIC)
    assert 'jsonPayload.event="rotation.result"' in metric["filter"]
    descriptor = metric["metricDescriptor"]
    assert (descriptor["metricKind"], descriptor["valueType"], descriptor["unit"]) == (
        "DELTA",
        "DISTRIBUTION",
        "s",
    )
    assert metric["valueExtractor"] == "EXTRACT(jsonPayload.seconds_left)"
    assert [label["key"] for label in descriptor["labels"]] == ["secret"]
    assert metric["labelExtractors"] == {"secret": "EXTRACT(jsonPayload.secret)"}
    buckets = metric["bucketOptions"]["exponentialBuckets"]
    # From a minute, 10% apart, past a 90-day key.
    assert buckets["scale"] == 60
    assert buckets["growthFactor"] == pytest.approx(1.1)
    assert 60 * 1.1 ** buckets["numFiniteBuckets"] > 90 * 86400


# ---------------------------------------------------------------------------------- the policies


def test_a_new_metric_unknown_to_monitoring_is_waited_for(scenario):
    """Cloud Monitoring refuses a policy on a log-based metric it doesn't know yet (404); the
    fake refused the first policy on each new metric, and deploy.sh tried again."""
    refused = [r for r in scenario.first.requests if r.method == "POST" and r.status == 404]
    assert [r.path for r in refused] == [f"/v3/projects/{PROJECT}/alertPolicies"] * 4
    assert "Cloud Monitoring does not know the new metric yet" in scenario.first.stdout
    assert set(policies_by_title(scenario.after_first)) == set(POLICIES.values())


def test_the_dead_mans_switch_waits_the_schedules_interval_plus_an_hour(scenario):
    policy = policies_by_title(scenario.after_first)[POLICIES["not_running"]]
    absent = condition(policy)["conditionAbsent"]
    assert absent["duration"] == f"{SIX_HOURS_PLUS_ONE}s"
    # Only the scheduled function's results: the job is the heartbeat.
    assert f'metric.type="logging.googleapis.com/user/{RESULTS_METRIC}"' in absent["filter"]
    assert f'resource.label.service_name="{FUNCTION}"' in absent["filter"]
    # Summed over every label and revision: a new revision is not an absence.
    [aggregation] = absent["aggregations"]
    assert aggregation["crossSeriesReducer"] == "REDUCE_SUM"
    assert "groupByFields" not in aggregation
    assert policy["severity"] == "ERROR"
    assert "gcloud scheduler jobs describe" in policy["documentation"]["content"]
    assert "Dead-man's switch: alerts after 7h without a result" in scenario.first.stdout


def test_the_key_lifetime_alert_fires_below_the_threshold_per_secret(scenario):
    policy = policies_by_title(scenario.after_first)[POLICIES["expiring"]]
    threshold = condition(policy)["conditionThreshold"]
    assert f'metric.type="logging.googleapis.com/user/{LIFETIME_METRIC}"' in threshold["filter"]
    assert threshold["comparison"] == "COMPARISON_LT"
    assert threshold["thresholdValue"] == 24 * 3600
    [aggregation] = threshold["aggregations"]
    assert aggregation["crossSeriesReducer"] == "REDUCE_MIN"
    assert aggregation["groupByFields"] == ["metric.label.secret"]
    assert policy["severity"] == "CRITICAL"
    assert "${metric.label.secret}" in policy["documentation"]["content"]


# ---------------------------------------------------------------------------------- the dashboard


def test_the_dashboard_charts_lifetimes_outcomes_and_each_policys_state(scenario):
    [create] = scenario.first.requests_to(
        "POST", "monitoring", rf"/v1/projects/{PROJECT}/dashboards"
    )
    body = create.body
    assert body["name"] == DASHBOARD
    text = json.dumps(body)
    assert "{{" not in text
    assert "_comment" not in text
    tiles = body["mosaicLayout"]["tiles"]
    widgets = [tile["widget"] for tile in tiles]
    charts = [w["xyChart"] for w in widgets if "xyChart" in w]
    filters = [c["dataSets"][0]["timeSeriesQuery"]["timeSeriesFilter"] for c in charts]
    assert [f["filter"].split('"')[1] for f in filters] == [
        f"logging.googleapis.com/user/{LIFETIME_METRIC}",
        f"logging.googleapis.com/user/{RESULTS_METRIC}",
    ]
    assert filters[0]["aggregation"]["groupByFields"] == ["metric.label.secret"]
    assert filters[1]["aggregation"]["groupByFields"] == [
        "metric.label.action",
        "metric.label.severity",
    ]
    assert charts[0]["thresholds"][0]["value"] == 24 * 3600
    by_title = policies_by_title(scenario.after_first)
    assert [w["alertChart"]["name"] for w in widgets if "alertChart" in w] == [
        by_title[POLICIES[key]]["name"]
        for key in ("failed", "not_stored", "not_running", "expiring")
    ]
    link = f"https://console.cloud.google.com/monitoring/dashboards/builder/{FUNCTION}?project={PROJECT}"
    assert link in scenario.first.stdout


def test_the_dashboard_template_is_not_uploaded_with_the_function(scenario):
    [upload] = [r for r in scenario.first.requests if r.api == "upload"]
    files = [name for name in upload.body["zip_entries"] if not name.endswith("/")]
    assert not any(name.startswith("monitoring/") for name in files)


# ---------------------------------------------------------------------------------- after deploying


def test_the_status_check_is_not_pointed_at_the_fake_and_says_how_to_run_it(scenario):
    """The function's Python client would talk to Google, not to where gcloud was pointed."""
    out = scenario.first.stdout
    assert "not checked here: gcloud reaches Secret Manager at" in out
    assert f".venv/bin/python -m rotation status --project {PROJECT} {' '.join(SECRETS)}" in out


# ---------------------------------------------------------------------------------- re-runs


def test_second_run_changes_nothing(scenario):
    assert scenario.second.mutating == []
    assert scenario.after_second == scenario.after_first


def test_what_was_changed_by_hand_is_put_back(scenario):
    """gcloud reads the metric and writes it back with deploy.sh's fields (its kind and value
    type unchanged, as the service requires); the dashboard is replaced, on the etag it read."""
    changes = [(r.method, r.api, r.path) for r in scenario.drifted.mutating]
    assert changes == [
        ("PUT", "logging", f"/v2/projects/{PROJECT}/metrics/{LIFETIME_METRIC}"),
        ("PATCH", "monitoring", f"/v1/{DASHBOARD}"),
    ]
    [put] = [r for r in scenario.drifted.mutating if r.method == "PUT"]
    assert "exponentialBuckets" in put.body["bucketOptions"]
    assert scenario.after_daily["log_metrics"] == scenario.after_second["log_metrics"]


def test_a_schedule_too_sparse_for_the_switch_removes_it_and_says_so(scenario):
    run = scenario.daily
    assert (
        "deploy.sh: warning: --schedule '0 3 * * *' leaves up to 1d between runs: too sparse"
        in (run.stderr)
    )
    changes = {(r.method, r.api) for r in run.mutating if r.api != "monitoring"}
    assert changes - {("POST", "run")} == {  # a redeploy may rewrite the invoker policy
        ("PUT", "upload"),
        ("PATCH", "cloudfunctions"),  # ROTATION_SCHEDULE changed
        ("PATCH", "cloudscheduler"),
    }
    monitoring = [(r.method, r.path.split("/")[1]) for r in run.mutating if r.api == "monitoring"]
    assert monitoring == [("DELETE", "v3"), ("PATCH", "v1")]  # the absence policy; the dashboard
    assert POLICIES["not_running"] not in policies_by_title(scenario.after_daily)
    [patch] = run.requests_to("PATCH", "monitoring", rf"/v1/{DASHBOARD}")
    assert patch.body["etag"]  # compare-and-swap on the version it read
    texts = [
        tile["widget"]["text"]["content"]
        for tile in patch.body["mosaicLayout"]["tiles"]
        if tile["widget"].get("title", "").startswith("Not running")
    ]
    assert texts == [
        "**Off**: no dead-man's switch (--schedule '0 3 * * *' leaves up to 1d between runs)."
    ]


def test_a_new_threshold_updates_only_the_expiry_policy_and_the_dashboard(scenario):
    changes = [(r.method, r.api, r.path.split("/")[1]) for r in scenario.threshold.mutating]
    assert sorted(changes) == [("PATCH", "monitoring", "v1"), ("PATCH", "monitoring", "v3")]
    policy = policies_by_title(scenario.before_teardown)[POLICIES["expiring"]]
    assert condition(policy)["conditionThreshold"]["thresholdValue"] == 2 * 86400
    dashboard = scenario.before_teardown["dashboards"][DASHBOARD]
    [lifetime] = [t for t in dashboard["mosaicLayout"]["tiles"] if "xyChart" in t["widget"]][:1]
    assert lifetime["widget"]["xyChart"]["thresholds"][0]["value"] == 2 * 86400


# ---------------------------------------------------------------------------------- teardown


def test_teardown_removes_the_dashboard_policies_and_metrics(scenario):
    state = scenario.after_teardown
    assert state["dashboards"] == {}
    assert state["alert_policies"] == {}
    assert state["log_metrics"] == {}
    order = [
        (r.method, r.path.split("/")[1])
        for r in scenario.teardown.mutating
        if r.api == "monitoring"
    ]
    assert order[0] == ("DELETE", "v1"), "the dashboard, which names the policies, goes first"


def test_teardown_again_changes_nothing(scenario):
    assert scenario.teardown_again.mutating == []


# ---------------------------------------------------------------------------------- plans and refusals


def _dry_run(fake: FakeGoogleApis, fake_env: dict[str, str], *args: str) -> Run:
    run = Deployer(fake, fake_env).run(*ARGS, *args, "--dry-run")
    assert run.returncode == 0, run.output
    assert run.requests == []
    return run


def test_no_scheduler_says_there_is_no_switch(fake, fake_env):
    run = _dry_run(fake, fake_env, "--rotation-period", "7d", "--no-scheduler")
    assert "note: no dead-man's switch: --no-scheduler" in run.stdout
    assert "conditionAbsent" not in run.stdout
    assert "ROTATION_SCHEDULE" not in run.stdout


def test_a_weekly_schedule_is_warned_about_twice(fake, fake_env):
    """Fewer than two runs inside REFRESH_BEFORE (README's rule), and too sparse for the switch;
    warnings, not refusals."""
    run = _dry_run(fake, fake_env, "--schedule", "0 3 * * 0")
    assert "fewer than two runs fit in --refresh-before 3d" in run.stderr
    assert "too sparse for the dead-man's switch" in run.stderr


def test_an_expiry_threshold_at_or_above_refresh_before_is_warned_about(fake, fake_env):
    run = _dry_run(fake, fake_env, "--alert-expiry-below", "3d")
    assert "--alert-expiry-below 3d is not below --refresh-before 3d" in run.stderr


def test_the_expiry_threshold_falls_back_to_its_environment_variable(fake, fake_env):
    run = Deployer(fake, {**fake_env, "ALERT_EXPIRY_BELOW": "36h"}).run(*ARGS, "--dry-run")
    assert run.returncode == 0, run.output
    assert '"thresholdValue": 129600' in run.stdout


@pytest.mark.parametrize("value", ["3 days", "0m", "24", "1w", "99999999999999999999999d"])
def test_a_bad_expiry_threshold_is_refused_before_any_request(tmp_path, value):
    done = subprocess.run(
        [str(DEPLOY_SH), *ARGS, "--alert-expiry-below", value],
        env=base_env(tmp_path),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "deploy.sh: --alert-expiry-below (ALERT_EXPIRY_BELOW): " in done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------- the snippets


def _snippet(name: str) -> str:
    match = re.search(
        rf"^readonly {name}='(.*?)'\n", DEPLOY_SH.read_text(), re.MULTILINE | re.DOTALL
    )
    assert match, name
    return match.group(1)


def _gap(expression: str, zone: str, start: date) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _snippet("CRON_GAP"), expression, zone, start.isoformat()],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _cronsim_gap(expression: str, zone: str, start: date) -> str:
    cronsim = pytest.importorskip("cronsim")  # the function's own cron library
    begin = datetime(start.year, start.month, start.day, tzinfo=ZoneInfo(zone))
    end = begin + timedelta(days=738)
    runs = []
    for moment in cronsim.CronSim(expression, begin - timedelta(seconds=1)):
        if moment >= end:
            break
        runs.append(moment.timestamp())
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    return str(int(max(gaps))) if gaps else "none"


SCHEDULES = [
    "0 */6 * * *",
    "0 3 * * *",
    "*/15 * * * *",
    "0 9 * * 1-5",
    "0 3 * * 0",
    "0 0 1 * *",
    "0 0 29 2 *",
    "0 12 1,15 * MON",
    "0 0 * JAN,JUL *",
    "5/20 */7 * * *",
    "0 0 */2 * *",
    "0 22 * * 6-7",
    "0 1-5/2 * * *",
    "0 0 31 * *",
    "0 */6 * * SUN-WED",
    "0 4 * * 7",
]


@pytest.mark.parametrize(
    ("expression", "zone"),
    [(expression, "Etc/UTC") for expression in SCHEDULES]
    + [(expression, "America/New_York") for expression in SCHEDULES if "*/15" not in expression],
)
def test_the_schedules_interval_is_cronsims(expression, zone):
    """deploy.sh's stdlib reading of the cron fields agrees with cronsim, the library the
    function computes its next run with. (Where a run falls in an hour the clocks skip or
    repeat, cron implementations differ; these schedules avoid those hours.)"""
    start = date(2025, 3, 1)
    assert _gap(expression, zone, start) == _cronsim_gap(expression, zone, start)


def test_the_schedules_interval_counts_the_hour_the_clocks_repeat():
    """A daily run at 12:00 in Paris is 25 hours from the one before when summer time ends."""
    assert _gap("0 12 * * *", "Europe/Paris", date(2025, 3, 1)) == str(25 * 3600)
    assert _gap("0 12 * * *", "Etc/UTC", date(2025, 3, 1)) == str(24 * 3600)


def test_the_status_report_names_each_secret_with_an_error(tmp_path):
    answer = {
        "ok": False,
        "secrets": [
            {"secret": "a", "error": None},
            {"secret": "b", "error": {"code": "schedule_too_sparse", "message": "dies first"}},
        ],
    }
    path = tmp_path / "status.json"
    path.write_text(json.dumps(answer))
    done = subprocess.run(
        [sys.executable, "-c", _snippet("STATUS_REPORT"), str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout == "b: dies first (schedule_too_sparse)\n"


def test_every_placeholder_of_the_dashboard_template_is_filled(tmp_path):
    template = REPO / "monitoring" / "dashboard.json"
    names = set(re.findall(r"\{\{([A-Z_]+)\}\}", template.read_text()))
    script = DEPLOY_SH.read_text()
    filled = set(re.findall(r'"([A-Z_]+)=', script[script.index("ensure_dashboard() {") :]))
    assert names <= filled, names - filled
