"""The fake refuses what Google documents it refuses, and accepts the edge of what it allows.

One test per rule in the tables of ``devtools/fake_google_apis/``'s module docstrings (one per
API, indexed in its ``__init__.py``). These talk to
the fake over plain HTTP (no gcloud): each sends a request shaped like gcloud's, once with
values on the allowed side of the documented boundary and once just past it, and checks the
refusal is Google's shape (400, INVALID_ARGUMENT, a BadRequest field violation) and that
nothing was stored.
"""

from __future__ import annotations

import base64
import copy
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import google_crc32c
import pytest

from devtools.fake_google_apis import (
    BAD_REQUEST_TYPE,
    JSON,
    PROJECT_NUMBER,
    FakeGoogleApis,
    regional_host,
)

P = "demo-project"
LOC = f"/v1/projects/{P}/locations/us-central1"
FUNCTIONS = f"/v2/projects/{P}/locations/us-central1/functions"
FN_SA = f"momento-key-rotator@{P}.iam.gserviceaccount.com"
JOB_SA = f"momento-key-rotation-invoker@{P}.iam.gserviceaccount.com"
URL = "https://momento-key-rotation-fakehash-uc.a.run.app"


class Api:
    """Plain HTTP calls to the fake, answering (status, parsed JSON). With ``location``, the call
    goes to that location's Secret Manager endpoint (``https://secretmanager.L.rep.googleapis.com``)
    through the fake as the proxy, as gcloud sends it (the fake answers as that host, with a
    certificate of its own authority)."""

    def __init__(self, fake: FakeGoogleApis) -> None:
        self.fake = fake

    def call(
        self,
        method: str,
        api: str,
        path: str,
        body: Any = None,
        query: str = "",
        *,
        location: str | None = None,
    ) -> tuple[int, JSON]:
        base = f"https://{regional_host(location)}" if location else f"{self.fake.base_url}/{api}"
        url = base + path + (f"?{query}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - local fake
        request.add_header("Content-Type", "application/json")
        try:
            with self.opener().open(request, timeout=10) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.load(error)

    def opener(self) -> urllib.request.OpenerDirector:
        """Plain calls go straight to the fake; HTTPS ones are tunnelled through it."""
        context = ssl.create_default_context(cafile=str(self.fake.ca_file))
        return urllib.request.build_opener(
            urllib.request.ProxyHandler({"https": self.fake.base_url}),
            urllib.request.HTTPSHandler(context=context),
        )

    def accepted(
        self,
        method: str,
        api: str,
        path: str,
        body: Any = None,
        query: str = "",
        *,
        location: str | None = None,
    ) -> JSON:
        status, answer = self.call(method, api, path, body, query, location=location)
        assert status == 200, answer
        return answer

    def refused(  # noqa: PLR0917 - reads like the request it sends
        self,
        field: str,
        method: str,
        api: str,
        path: str,
        body: Any = None,
        query: str = "",
        *,
        location: str | None = None,
    ) -> str:
        """Assert Google's INVALID_ARGUMENT shape and that the fake's state did not change."""
        before = self.fake.snapshot()
        status, answer = self.call(method, api, path, body, query, location=location)
        assert status == 400, answer
        error = answer["error"]
        assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
        [detail] = error["details"]
        assert detail["@type"] == BAD_REQUEST_TYPE
        [violation] = detail["fieldViolations"]
        assert violation["field"] == field
        assert violation["description"] == error["message"]
        assert self.fake.snapshot() == before
        message: str = error["message"]
        return message


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGoogleApis]:
    with FakeGoogleApis() as server:
        server.add_secret(P, "momento-key", (b"{}",))
        yield server


@pytest.fixture(scope="module")
def api(fake: FakeGoogleApis) -> Api:
    client = Api(fake)
    # The function whose Cloud Run service the run-policy tests write to.
    client.accepted(
        "POST", "cloudfunctions", FUNCTIONS, function(), "functionId=momento-key-rotation"
    )
    return client


_ids = iter(range(10**6))


def unique(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}"


# ---------------------------------------------------------------------------------- IAM


def account(account_id: str, **details: str) -> JSON:
    return {"accountId": account_id, "serviceAccount": details}


ACCOUNTS = f"/v1/projects/{P}/serviceAccounts"


@pytest.mark.parametrize(
    "account_id", ["abcdef", "a" * 30, "a-b-c9", "z0000000000000000000000000000z"]
)
def test_service_account_id_allowed(api, account_id):
    api.accepted("POST", "iam", ACCOUNTS, account(account_id))


@pytest.mark.parametrize(
    "account_id", ["abcde", "a" * 31, "1abcde", "abcde-", "Abcdef", "abc_def", "abc.def", ""]
)
def test_service_account_id_refused(api, account_id):
    api.refused("account_id", "POST", "iam", ACCOUNTS, account(account_id))


def test_service_account_display_name_is_at_most_100_utf8_bytes(api):
    api.accepted("POST", "iam", ACCOUNTS, account(unique("sa-"), displayName="x" * 100))
    api.accepted("POST", "iam", ACCOUNTS, account(unique("sa-"), displayName="é" * 50))
    for name in ("x" * 101, "é" * 51):
        api.refused(
            "service_account.display_name",
            "POST",
            "iam",
            ACCOUNTS,
            account(unique("sa-"), displayName=name),
        )


def test_service_account_description_is_at_most_256_utf8_bytes(api):
    api.accepted("POST", "iam", ACCOUNTS, account(unique("sa-"), description="d" * 256))
    api.refused(
        "service_account.description",
        "POST",
        "iam",
        ACCOUNTS,
        account(unique("sa-"), description="d" * 257),
    )


ROLES = f"/v1/projects/{P}/roles"
PERMISSIONS = ["secretmanager.versions.access", "secretmanager.versions.add"]


def role(role_id: str, **fields: Any) -> JSON:
    return {
        "roleId": role_id,
        "role": {"title": "t", "stage": "GA", "includedPermissions": PERMISSIONS, **fields},
    }


@pytest.mark.parametrize("role_id", ["abc", "a.b_C9", "R" * 64, "momentoKeyRotator"])
def test_custom_role_id_allowed(api, role_id):
    api.accepted("POST", "iam", ROLES, role(role_id))


@pytest.mark.parametrize("role_id", ["ab", "a" * 65, "a-b-c", "a b c", "role/x", ""])
def test_custom_role_id_refused(api, role_id):
    api.refused("role_id", "POST", "iam", ROLES, role(role_id))


def test_custom_role_title_is_at_most_100_utf8_bytes(api):
    api.accepted("POST", "iam", ROLES, role(unique("title"), title="t" * 100))
    api.refused("role.title", "POST", "iam", ROLES, role(unique("title"), title="t" * 101))
    api.refused("role.title", "POST", "iam", ROLES, role(unique("title"), title="€" * 34))


def test_custom_role_description_is_at_most_300_utf8_bytes(api):
    api.accepted("POST", "iam", ROLES, role(unique("desc"), description="d" * 300))
    api.refused(
        "role.description", "POST", "iam", ROLES, role(unique("desc"), description="d" * 301)
    )


def test_custom_role_stage_is_a_launch_stage(api):
    for stage in ("ALPHA", "BETA", "GA", "DEPRECATED", "DISABLED", "EAP"):
        api.accepted("POST", "iam", ROLES, role(unique("stage"), stage=stage))
    api.refused("role.stage", "POST", "iam", ROLES, role(unique("stage"), stage="PRODUCTION"))


@pytest.mark.parametrize(
    "permission", ["secretmanager.versions", "secretmanager versions.add", "", "a.b.c.d"]
)
def test_custom_role_permissions_are_service_resource_verb(api, permission):
    body = role(unique("perm"), includedPermissions=[*PERMISSIONS, permission])
    api.refused("role.included_permissions[2]", "POST", "iam", ROLES, body)


def test_custom_role_update_is_checked_too(api):
    role_id = unique("upd")
    api.accepted("POST", "iam", ROLES, role(role_id))
    api.refused(
        "role.title",
        "PATCH",
        "iam",
        f"{ROLES}/{role_id}",
        {"title": "t" * 101},
        "updateMask=title",
    )


def secret_policy(role_name: str, *members: str) -> JSON:
    return {"policy": {"bindings": [{"role": role_name, "members": list(members)}]}}


SECRET_POLICY = f"/v1/projects/{P}/secrets/momento-key:setIamPolicy"
RUN_POLICY = f"{LOC}/services/momento-key-rotation:setIamPolicy"


@pytest.mark.parametrize(
    "member",
    [
        f"serviceAccount:{FN_SA}",
        "user:alice@example.com",
        "group:admins@example.com",
        "domain:example.com",
        "allUsers",
        "allAuthenticatedUsers",
        "deleted:serviceAccount:x@p.iam.gserviceaccount.com?uid=123",
        "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/s",
    ],
)
def test_policy_members_allowed(api, member):
    role_name = f"projects/{P}/roles/momentoKeyRotator"
    api.accepted("POST", "secretmanager", SECRET_POLICY, secret_policy(role_name, member))
    api.accepted("POST", "secretmanager", SECRET_POLICY, {"policy": {}})


@pytest.mark.parametrize(
    "member",
    [FN_SA, "serviceAccount:", "serviceAccount:no-at-sign", "allusers", "sa:" + FN_SA, ""],
)
def test_policy_members_refused(api, member):
    role_name = f"projects/{P}/roles/momentoKeyRotator"
    field = "policy.bindings[0].members[0]"
    api.refused(field, "POST", "secretmanager", SECRET_POLICY, secret_policy(role_name, member))
    api.refused(field, "POST", "run", RUN_POLICY, secret_policy("roles/run.invoker", member))


@pytest.mark.parametrize(
    "role_name",
    ["run.invoker", "roles/", f"projects/{P}/roles/", f"projects/{P}/role/x", "roles/run invoker"],
)
def test_policy_roles_have_a_role_name_form(api, role_name):
    member = f"serviceAccount:{FN_SA}"
    for good in ("roles/run.invoker", f"projects/{P}/roles/a_b.c", "organizations/1/roles/x"):
        api.accepted("POST", "secretmanager", SECRET_POLICY, secret_policy(good, member))
    api.refused(
        "policy.bindings[0].role",
        "POST",
        "secretmanager",
        SECRET_POLICY,
        secret_policy(role_name, member),
    )


# ---------------------------------------------------------------------------------- Secret Manager

SECRETS = f"/v1/projects/{P}/secrets"
AUTOMATIC = {"replication": {"automatic": {}}}


def test_secret_id_is_at_most_255_letters_digits_hyphens_underscores(api):
    for secret_id in ("a", "A-b_9", "s" * 255):
        api.accepted("POST", "secretmanager", SECRETS, AUTOMATIC, f"secretId={secret_id}")
    for secret_id in ("s" * 256, "a.b", "a/b", "a%20b", ""):
        api.refused(
            "secret_id", "POST", "secretmanager", SECRETS, AUTOMATIC, f"secretId={secret_id}"
        )


def test_secret_labels_follow_the_label_rules(api):
    good = {**AUTOMATIC, "labels": {"env": "prod", "k" * 63: "v" * 63}}
    api.accepted("POST", "secretmanager", SECRETS, good, f"secretId={unique('l')}")
    bad = {**AUTOMATIC, "labels": {"Env": "prod"}}
    api.refused("labels", "POST", "secretmanager", SECRETS, bad, f"secretId={unique('l')}")


def add_version(data: bytes, crc: int | None = None) -> JSON:
    payload: JSON = {"data": base64.b64encode(data).decode()}
    if crc is not None:
        payload["dataCrc32c"] = str(crc)  # an int64: JSON carries it as a string
    return {"payload": payload}


ADD_VERSION = f"{SECRETS}/momento-key:addVersion"


def test_secret_payload_is_at_most_64_kib(api):
    api.accepted("POST", "secretmanager", ADD_VERSION, add_version(b"x" * 65536))
    api.refused("payload.data", "POST", "secretmanager", ADD_VERSION, add_version(b"x" * 65537))


def test_secret_payload_checksum_must_match(api):
    data = b'{"apiKey": "k", "refreshToken": "r"}'
    api.accepted("POST", "secretmanager", ADD_VERSION, add_version(data, google_crc32c.value(data)))
    wrong = google_crc32c.value(data) ^ 1
    api.refused(
        "payload.data_crc32c", "POST", "secretmanager", ADD_VERSION, add_version(data, wrong)
    )


# ---------------------------------------------------------------------------------- Service Usage


def test_batch_enable_takes_at_most_20_services(api):
    path = f"/v1/projects/{P}/services:batchEnable"
    services = [f"s{i}.googleapis.com" for i in range(21)]
    api.accepted("POST", "serviceusage", path, {"serviceIds": services[:20]})
    api.refused("service_ids", "POST", "serviceusage", path, {"serviceIds": services})


# ---------------------------------------------------------------------------------- Cloud Functions


def function(**changes: Any) -> JSON:
    """A create body shaped like the one gcloud sends for deploy.sh."""
    body: JSON = {
        "buildConfig": {
            "entryPoint": "rotate",
            "runtime": "python312",
            "source": {"storageSource": {"bucket": "b", "object": "o.zip"}},
        },
        "labels": {"deploy-fingerprint": "0" * 40, "deployment-tool": "cli-gcloud"},
        "serviceConfig": {
            "availableMemory": "256Mi",
            "environmentVariables": {"ROTATION_SECRETS": "momento-key", "DRY_RUN": "false"},
            "maxInstanceCount": 1,
            "serviceAccountEmail": FN_SA,
            "timeoutSeconds": 300,
        },
    }
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = body
        for key in parents:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return body


def create_function(api: Api, body: JSON, function_id: str | None = None) -> JSON:
    function_id = unique("fn-") if function_id is None else function_id
    return api.accepted("POST", "cloudfunctions", FUNCTIONS, body, f"functionId={function_id}")


def refuse_function(api: Api, field: str, body: JSON, function_id: str | None = None) -> str:
    function_id = unique("fn-") if function_id is None else function_id
    return api.refused(
        field, "POST", "cloudfunctions", FUNCTIONS, body, f"functionId={function_id}"
    )


@pytest.mark.parametrize("function_id", ["a", "key-rotation", "f" * 63, "Fn_1"])
def test_function_id_allowed(api, function_id):
    create_function(api, function(), function_id)


@pytest.mark.parametrize("function_id", ["f" * 64, "bad.name", "has%20space", "a/b", "", "%C3%A9"])
def test_function_id_refused(api, function_id):
    refuse_function(api, "function_id", function(), function_id)


@pytest.mark.parametrize(
    "labels",
    [
        {"deploy-fingerprint": "f" * 63},
        {"k" * 63: ""},
        {"é-clé": "ü_1"},
        {f"k{i}": "v" for i in range(64)},
    ],
)
def test_function_labels_allowed(api, labels):
    create_function(api, function(labels=labels))


@pytest.mark.parametrize(
    "labels",
    [
        {"deploy-fingerprint": "f" * 64},  # a 64-character fingerprint would not fit
        {"deploy-fingerprint": "ABCDEF"},
        {"deploy-fingerprint": "a.b"},
        {"deploy-fingerprint": "a/b"},
        {"Deploy": "x"},
        {"1key": "x"},
        {"_key": "x"},
        {"": "x"},
        {"k" * 64: "x"},
        {"run.googleapis.com/x": "y"},
        {f"k{i}": "v" for i in range(65)},
    ],
)
def test_function_labels_refused(api, labels):
    refuse_function(api, "labels", function(labels=labels))


@pytest.mark.parametrize(
    "name",
    [
        "PORT",
        "K_SERVICE",
        "K_REVISION",
        "K_CONFIGURATION",
        "FUNCTION_TARGET",
        "FUNCTION_SIGNATURE_TYPE",
        "X_GOOGLE_ANYTHING",
        "A=B",
        "",
    ],
)
def test_function_env_var_names_that_are_reserved_or_invalid_are_refused(api, name):
    body = function(serviceConfig__environmentVariables={"ROTATION_SECRETS": "k", name: "1"})
    refuse_function(api, "service_config.environment_variables", body)


def test_function_env_var_names_near_the_reserved_ones_are_allowed(api):
    names = {"PORTS": "1", "K_SERVICE_NAME": "1", "X_GOOGLEAPIS": "1", "x_google_lower": "1"}
    create_function(api, function(serviceConfig__environmentVariables=names))


def test_function_env_vars_are_at_most_1000_and_32_kib(api):
    field = "service_config.environment_variables"
    many = {f"V{i}": "" for i in range(1000)}
    create_function(api, function(serviceConfig__environmentVariables=many))
    refuse_function(api, field, function(serviceConfig__environmentVariables={**many, "V1000": ""}))
    create_function(api, function(serviceConfig__environmentVariables={"A": "x" * 32767}))
    refuse_function(api, field, function(serviceConfig__environmentVariables={"A": "x" * 32768}))


@pytest.mark.parametrize("memory", ["128Mi", "128M", "256Mi", "1Gi", "32Gi", "268435456", "0.5Gi"])
def test_function_memory_allowed(api, memory):
    create_function(api, function(serviceConfig__availableMemory=memory))


@pytest.mark.parametrize("memory", ["64Mi", "122Mi", "33Gi", "256MB", "256mi", "lots", "1Ti"])
def test_function_memory_refused(api, memory):
    refuse_function(
        api, "service_config.available_memory", function(serviceConfig__availableMemory=memory)
    )


def test_function_timeout_is_at_most_3600s_for_http_and_540s_for_events(api):
    field = "service_config.timeout_seconds"
    create_function(api, function(serviceConfig__timeoutSeconds=3600))
    refuse_function(api, field, function(serviceConfig__timeoutSeconds=3601))
    event = {"eventType": "google.cloud.pubsub.topic.v1.messagePublished"}
    create_function(api, function(eventTrigger=event, serviceConfig__timeoutSeconds=540))
    refuse_function(api, field, function(eventTrigger=event, serviceConfig__timeoutSeconds=541))


def test_function_build_service_account_is_a_resource_name(api):
    good = f"projects/{P}/serviceAccounts/builder@{P}.iam.gserviceaccount.com"
    create_function(api, function(buildConfig__serviceAccount=good))
    refuse_function(
        api,
        "build_config.service_account",
        function(buildConfig__serviceAccount=f"builder@{P}.iam.gserviceaccount.com"),
    )


def test_function_runtime_is_required_on_create(api):
    refuse_function(api, "build_config.runtime", function(buildConfig__runtime=None))


def test_function_update_is_checked_too(api, fake):
    function_id = unique("fn-")
    create_function(api, function(), function_id)
    path = f"{FUNCTIONS}/{function_id}"
    before = copy.deepcopy(
        fake.functions[f"projects/{P}/locations/us-central1/functions/{function_id}"]
    )
    api.refused(
        "labels",
        "PATCH",
        "cloudfunctions",
        path,
        {"labels": {"deploy-fingerprint": "F" * 40}},
        "updateMask=labels",
    )
    api.refused(
        "service_config.available_memory",
        "PATCH",
        "cloudfunctions",
        path,
        {"serviceConfig": {"availableMemory": "64Mi"}},
        "updateMask=serviceConfig.availableMemory",
    )
    assert fake.functions[before["name"]] == before


# ---------------------------------------------------------------------------------- Cloud Scheduler

JOBS = f"{LOC}/jobs"


def job(name: str | None = None, **changes: Any) -> JSON:
    """A create body shaped like the one gcloud sends for deploy.sh."""
    body: JSON = {
        "attemptDeadline": "330s",
        "description": "Rotates Momento API keys in Secret Manager (deploy.sh)",
        "httpTarget": {
            "body": "e30=",
            "headers": {"Content-Type": "application/json"},
            "httpMethod": "POST",
            "oidcToken": {"audience": URL, "serviceAccountEmail": JOB_SA},
            "uri": URL,
        },
        "name": f"projects/{P}/locations/us-central1/jobs/{name or unique('job-')}",
        "retryConfig": {
            "maxBackoffDuration": "600s",
            "maxDoublings": 3,
            "minBackoffDuration": "60s",
            "retryCount": 3,
        },
        "schedule": "0 3 * * *",
        "timeZone": "Etc/UTC",
    }
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = body
        for key in parents:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return body


def test_job_name_allowed(api):
    for name in ("momento-key-rotation", "My_Job-1", "j" * 500):
        api.accepted("POST", "cloudscheduler", JOBS, job(name))


@pytest.mark.parametrize(
    "name",
    [
        f"projects/{P}/locations/us-central1/jobs/" + "j" * 501,
        f"projects/{P}/locations/us-central1/jobs/my.job",
        f"projects/{P}/locations/us-central1/jobs/",
        f"projects/{P}/jobs/x",
        "projects/my_project/locations/us-central1/jobs/x",
        "x",
    ],
)
def test_job_name_refused(api, name):
    api.refused("job.name", "POST", "cloudscheduler", JOBS, {**job(), "name": name})


def test_job_description_is_at_most_500_characters(api):
    api.accepted("POST", "cloudscheduler", JOBS, job(description="é" * 500))
    api.refused("job.description", "POST", "cloudscheduler", JOBS, job(description="d" * 501))


def test_job_schedule_is_required_on_create(api):
    api.refused("job.schedule", "POST", "cloudscheduler", JOBS, job(schedule=None))
    api.refused("job.schedule", "POST", "cloudscheduler", JOBS, job(schedule=""))


@pytest.mark.parametrize("zone", ["Etc/UTC", "utc", "UTC", "Europe/Paris", "America/New_York"])
def test_job_time_zone_allowed(api, zone):
    api.accepted("POST", "cloudscheduler", JOBS, job(timeZone=zone))


@pytest.mark.parametrize("zone", ["Mars/Olympus", "UTC+2", "GMT+02:00", "Paris", ""])
def test_job_time_zone_refused(api, zone):
    api.refused("job.time_zone", "POST", "cloudscheduler", JOBS, job(timeZone=zone))


def test_job_uri_is_http_or_https_and_at_most_2083_characters(api):
    field = "job.http_target.uri"
    api.accepted("POST", "cloudscheduler", JOBS, job(httpTarget__uri="http://acme.com"))
    long_ok = "https://a.example/" + "p" * (2083 - len("https://a.example/"))
    api.accepted("POST", "cloudscheduler", JOBS, job(httpTarget__uri=long_ok))
    for uri in ("ftp://acme.com", "acme.com", long_ok + "p", ""):
        api.refused(field, "POST", "cloudscheduler", JOBS, job(httpTarget__uri=uri))


def test_job_body_needs_post_put_or_patch(api):
    for method in ("POST", "PUT", "PATCH"):
        api.accepted("POST", "cloudscheduler", JOBS, job(httpTarget__httpMethod=method))
    api.accepted(
        "POST", "cloudscheduler", JOBS, job(httpTarget__httpMethod="GET", httpTarget__body=None)
    )
    for method in ("GET", "DELETE", "HEAD", "OPTIONS"):
        api.refused(
            "job.http_target.body",
            "POST",
            "cloudscheduler",
            JOBS,
            job(httpTarget__httpMethod=method),
        )


def test_job_headers_are_under_80kb(api):
    field = "job.http_target.headers"
    small = {"Content-Type": "application/json", "X-Big": "x" * 70_000}
    api.accepted("POST", "cloudscheduler", JOBS, job(httpTarget__headers=small))
    big = {"Content-Type": "application/json", "X-Big": "x" * 82_000}
    api.refused(field, "POST", "cloudscheduler", JOBS, job(httpTarget__headers=big))


def test_job_oidc_account_is_in_the_jobs_project(api):
    field = "job.http_target.oidc_token.service_account_email"
    compute = "123456789012-compute@developer.gserviceaccount.com"
    api.accepted(
        "POST", "cloudscheduler", JOBS, job(httpTarget__oidcToken__serviceAccountEmail=compute)
    )
    other = "invoker@other-project.iam.gserviceaccount.com"
    api.refused(
        field, "POST", "cloudscheduler", JOBS, job(httpTarget__oidcToken__serviceAccountEmail=other)
    )


def test_job_retry_count_is_0_to_5(api):
    field = "job.retry_config.retry_count"
    for count in (0, 5, "5"):
        api.accepted("POST", "cloudscheduler", JOBS, job(retryConfig__retryCount=count))
    for count in (6, -1, "many"):
        api.refused(field, "POST", "cloudscheduler", JOBS, job(retryConfig__retryCount=count))


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("retryConfig__minBackoffDuration", "job.retry_config.min_backoff_duration"),
        ("retryConfig__maxBackoffDuration", "job.retry_config.max_backoff_duration"),
        ("retryConfig__maxRetryDuration", "job.retry_config.max_retry_duration"),
        ("attemptDeadline", "job.attempt_deadline"),
    ],
)
def test_job_durations_are_protobuf_durations(api, key, field):
    api.accepted("POST", "cloudscheduler", JOBS, job(**{key: "60.5s"}))
    for value in ("60", "1m", "60 s", "s", "1.0000000001s"):
        api.refused(field, "POST", "cloudscheduler", JOBS, job(**{key: value}))


def test_job_attempt_deadline_is_15s_to_30m_for_http_targets(api):
    for deadline in ("15s", "1800s", "330s"):
        api.accepted("POST", "cloudscheduler", JOBS, job(attemptDeadline=deadline))
    for deadline in ("14.9s", "1801s", "1800.5s"):
        api.refused(
            "job.attempt_deadline", "POST", "cloudscheduler", JOBS, job(attemptDeadline=deadline)
        )


def test_job_update_is_checked_too(api, fake):
    name = unique("job-")
    api.accepted("POST", "cloudscheduler", JOBS, job(name))
    before = copy.deepcopy(fake.jobs[f"projects/{P}/locations/us-central1/jobs/{name}"])
    api.refused(
        "job.retry_config.retry_count",
        "PATCH",
        "cloudscheduler",
        f"{JOBS}/{name}",
        {"retryConfig": {"retryCount": 9}},
        "updateMask=retryConfig.retryCount",
    )
    api.refused(
        "job.time_zone",
        "PATCH",
        "cloudscheduler",
        f"{JOBS}/{name}",
        {"timeZone": "Mars/Olympus"},
        "updateMask=timeZone",
    )
    assert fake.jobs[before["name"]] == before


# ---------------------------------------------------------------------------------- the shape


def test_refusals_have_googles_error_shape(api):
    """400 with INVALID_ARGUMENT and a google.rpc.BadRequest naming the field, like Google's
    JSON errors; gcloud prints the message and exits 1."""
    status, answer = api.call("POST", "iam", ACCOUNTS, account("short"))
    assert status == 400
    assert answer == {
        "error": {
            "code": 400,
            "message": answer["error"]["message"],
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [
                        {"field": "account_id", "description": answer["error"]["message"]}
                    ],
                }
            ],
        }
    }
    assert "'short'" in answer["error"]["message"]


# ---------------------------------------------------------------------------------- Pub/Sub
# (issue #10: what deploy.sh --rotation-period sends)


def topic_path(topic_id: str) -> str:
    return f"/v1/projects/{P}/topics/{topic_id}"


@pytest.mark.parametrize(
    "topic_id", ["abc", "A" + "x" * 254, "momento-key-rotation", "t-_.~+%1", "go0g", "gooey"]
)
def test_topic_name_allowed(api, topic_id):
    name = f"projects/{P}/topics/{topic_id}"
    assert api.accepted("PUT", "pubsub", topic_path(topic_id), {"name": name})["name"] == name


@pytest.mark.parametrize(
    "topic_id", ["ab", "a" * 256, "1abc", "-abc", "goog-topic", "GOOGle", "abc$", "abc!"]
)
def test_topic_name_refused(api, topic_id):
    api.refused(
        "name", "PUT", "pubsub", topic_path(topic_id), {"name": f"projects/{P}/topics/{topic_id}"}
    )


def test_topic_and_project_policies_follow_the_policy_rules(api):
    topic_id = unique("topic-")
    api.accepted("PUT", "pubsub", topic_path(topic_id), {})
    bad = {"policy": {"bindings": [{"role": "pubsub.publisher", "members": ["allUsers"]}]}}
    api.refused(
        "policy.bindings[0].role", "POST", "pubsub", f"{topic_path(topic_id)}:setIamPolicy", bad
    )
    api.refused(
        "policy.bindings[0].role",
        "POST",
        "cloudresourcemanager",
        f"/v1/projects/{P}:setIamPolicy",
        bad,
    )


# ---------------------------------------------------------------------------------- rotation


def rotation_patch(**rotation: str) -> JSON:
    return {"rotation": rotation, "topics": [{"name": f"projects/{P}/topics/momento-rotation"}]}


MASK = "updateMask=rotation.next_rotation_time,rotation.rotation_period,topics"


def in_minutes(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def secret_path(fake: FakeGoogleApis) -> str:
    secret_id = unique("rot-")
    fake.add_secret(P, secret_id)
    return f"/v1/projects/{P}/secrets/{secret_id}"


def test_secret_rotation_period_is_1h_to_100_years_in_seconds(api, fake):
    for period in ("3600s", "3153600000s", "2592000s"):
        body = rotation_patch(nextRotationTime=in_minutes(60), rotationPeriod=period)
        api.accepted("PATCH", "secretmanager", secret_path(fake), body, MASK)
    for period in ("3599s", "3153600001s", "1800s"):
        body = rotation_patch(nextRotationTime=in_minutes(60), rotationPeriod=period)
        api.refused(
            "secret.rotation.rotation_period",
            "PATCH",
            "secretmanager",
            secret_path(fake),
            body,
            MASK,
        )


def test_secret_rotation_period_needs_a_next_rotation_time(api, fake):
    body = rotation_patch(rotationPeriod="3600s")
    api.refused(
        "secret.rotation.next_rotation_time",
        "PATCH",
        "secretmanager",
        secret_path(fake),
        body,
        MASK,
    )


def test_secret_next_rotation_time_is_at_least_5_minutes_ahead(api, fake):
    body = rotation_patch(nextRotationTime=in_minutes(6), rotationPeriod="3600s")
    api.accepted("PATCH", "secretmanager", secret_path(fake), body, MASK)
    for minutes in (4, -60):
        body = rotation_patch(nextRotationTime=in_minutes(minutes), rotationPeriod="3600s")
        api.refused(
            "secret.rotation.next_rotation_time",
            "PATCH",
            "secretmanager",
            secret_path(fake),
            body,
            MASK,
        )


def test_secret_rotation_needs_topics(api, fake):
    body = {"rotation": {"nextRotationTime": in_minutes(60), "rotationPeriod": "3600s"}}
    api.refused("secret.rotation", "PATCH", "secretmanager", secret_path(fake), body, MASK)


def test_secret_topics_are_at_most_10_topic_names(api, fake):
    topics = [{"name": f"projects/{P}/topics/topic-{i}"} for i in range(11)]
    body = {"topics": topics[:10]}
    api.accepted("PATCH", "secretmanager", secret_path(fake), body, "updateMask=topics")
    api.refused(
        "secret.topics",
        "PATCH",
        "secretmanager",
        secret_path(fake),
        {"topics": topics},
        "updateMask=topics",
    )
    api.refused(
        "secret.topics[0].name",
        "PATCH",
        "secretmanager",
        secret_path(fake),
        {"topics": [{"name": f"projects/{P}/topics/goog-x"}]},
        "updateMask=topics",
    )


def test_removing_the_schedule_and_topics_clears_them(api, fake):
    path = secret_path(fake)
    body = rotation_patch(nextRotationTime=in_minutes(60), rotationPeriod="3600s")
    api.accepted("PATCH", "secretmanager", path, body, MASK)
    cleared = api.accepted("PATCH", "secretmanager", path, {"annotations": {}}, MASK)
    assert "rotation" not in cleared
    assert "topics" not in cleared


# ---------------------------------------------------------------------------------- event trigger


def test_function_event_trigger_is_checked(api):
    trigger = {
        "eventType": "google.cloud.pubsub.topic.v1.messagePublished",
        "pubsubTopic": f"projects/{P}/topics/momento-key-rotation",
        "retryPolicy": "RETRY_POLICY_RETRY",
    }
    create_function(api, function(eventTrigger=trigger))
    refuse_function(
        api, "event_trigger.event_type", function(eventTrigger={**trigger, "eventType": ""})
    )
    refuse_function(
        api,
        "event_trigger.pubsub_topic",
        function(eventTrigger={**trigger, "pubsubTopic": f"projects/{P}/topics/ab"}),
    )
    refuse_function(
        api,
        "event_trigger.retry_policy",
        function(eventTrigger={**trigger, "retryPolicy": "ALWAYS"}),
    )


# ---------------------------------------------------------------------------------- Logging

METRICS = f"/v2/projects/{P}/metrics"


def metric(name: str, **changes: str) -> JSON:
    return {"name": name, "filter": 'jsonPayload.event="rotation.result"', **changes}


@pytest.mark.parametrize("name", ["a", "m" * 100, "nginx/requests", "A-z_0.9,+!*'()%"])
def test_log_metric_name_allowed(api, name):
    api.accepted("POST", "logging", METRICS, metric(name))


@pytest.mark.parametrize("name", ["", "m" * 101, "/leading", "has space", "semi;colon", "é"])
def test_log_metric_name_refused(api, name):
    api.refused("metric.name", "POST", "logging", METRICS, metric(name))


def test_log_metric_filter_and_description_limits(api):
    api.accepted("POST", "logging", METRICS, metric(unique("m-"), filter="x" * 20000))
    api.accepted("POST", "logging", METRICS, metric(unique("m-"), description="d" * 8000))
    api.refused("metric.filter", "POST", "logging", METRICS, metric(unique("m-"), filter=""))
    api.refused(
        "metric.filter", "POST", "logging", METRICS, metric(unique("m-"), filter="x" * 20001)
    )
    api.refused(
        "metric.description",
        "POST",
        "logging",
        METRICS,
        metric(unique("m-"), description="d" * 8001),
    )
    name = unique("m-")
    api.accepted("POST", "logging", METRICS, metric(name))
    api.refused("metric.filter", "PUT", "logging", f"{METRICS}/{name}", metric(name, filter=""))


# ---------------------------------------------------------------------------------- Monitoring

POLICIES = f"/v3/projects/{P}/alertPolicies"


CUSTOM_FILTER = 'metric.type="custom.googleapis.com/x" AND resource.type="global"'


def alert_policy(**changes: Any) -> JSON:
    condition = {
        "displayName": "failures > 0",
        "conditionThreshold": {"filter": CUSTOM_FILTER, "comparison": "COMPARISON_GT"},
    }
    return {"displayName": "p", "combiner": "OR", "conditions": [condition], **changes}


def test_alert_policy_rules(api):
    created = api.accepted("POST", "monitoring", POLICIES, alert_policy(displayName="é" * 512))
    api.accepted("POST", "monitoring", POLICIES, alert_policy(displayName="p"))  # names repeat
    six = alert_policy()["conditions"] * 6
    api.accepted("POST", "monitoring", POLICIES, alert_policy(conditions=six))
    channel = f"projects/{P}/notificationChannels/42"
    api.accepted("POST", "monitoring", POLICIES, alert_policy(notificationChannels=[channel]))
    api.accepted("POST", "monitoring", POLICIES, alert_policy(severity="CRITICAL"))
    for field, body in (
        ("alert_policy.name", alert_policy(name=f"{POLICIES}/1")),
        ("alert_policy.display_name", alert_policy(displayName="x" * 513)),
        ("alert_policy.conditions", alert_policy(conditions=[])),
        ("alert_policy.conditions", alert_policy(conditions=six + six[:1])),
        ("alert_policy.notification_channels[0]", alert_policy(notificationChannels=["42"])),
        ("alert_policy.severity", alert_policy(severity="PAGE")),
        ("alert_policy.user_labels", alert_policy(userLabels={"Team": "x"})),
    ):
        api.refused(field, "POST", "monitoring", POLICIES, body)
    policy_id = created["name"].rsplit("/", 1)[-1]
    api.refused(
        "alert_policy.conditions",
        "PATCH",
        "monitoring",
        f"{POLICIES}/{policy_id}",
        alert_policy(conditions=[]),
    )


# ---------------------------------------------------------------------------------- log-based metrics with values


def distribution(name: str, **changes: Any) -> JSON:
    """A distribution of jsonPayload.seconds_left by secret, as deploy.sh sends it."""
    body: JSON = {
        "name": name,
        "filter": 'jsonPayload.event="rotation.result"',
        "metricDescriptor": {
            "metricKind": "DELTA",
            "valueType": "DISTRIBUTION",
            "unit": "s",
            "labels": [{"key": "secret"}],
        },
        "valueExtractor": "EXTRACT(jsonPayload.seconds_left)",
        "labelExtractors": {"secret": "EXTRACT(jsonPayload.secret)"},
        "bucketOptions": {
            "exponentialBuckets": {"numFiniteBuckets": 140, "growthFactor": 1.1, "scale": 60}
        },
    }
    return {**body, **changes}


def test_log_metric_distribution_needs_a_delta_kind_a_value_extractor_and_buckets(api):
    api.accepted("POST", "logging", METRICS, distribution(unique("d-")))
    descriptor = distribution("x")["metricDescriptor"]
    for field, body in (
        (
            "metric.value_extractor",
            {k: v for k, v in distribution(unique("d-")).items() if k != "valueExtractor"},
        ),
        (
            "metric.bucket_options",
            {k: v for k, v in distribution(unique("d-")).items() if k != "bucketOptions"},
        ),
        (
            "metric.metric_descriptor.metric_kind",
            distribution(unique("d-"), metricDescriptor={**descriptor, "metricKind": "GAUGE"}),
        ),
    ):
        api.refused(field, "POST", "logging", METRICS, body)


@pytest.mark.parametrize(
    "extractor",
    [
        "EXTRACT(jsonPayload.seconds_left)",
        "EXTRACT(severity)",
        'REGEXP_EXTRACT(jsonPayload.message, "left: (\\\\d+)s")',
    ],
)
def test_log_metric_extractors_allowed(api, extractor):
    api.accepted("POST", "logging", METRICS, distribution(unique("d-"), valueExtractor=extractor))


@pytest.mark.parametrize(
    "extractor",
    [
        "jsonPayload.seconds_left",
        "EXTRACT()",
        "SUM(jsonPayload.seconds_left)",
        'REGEXP_EXTRACT(jsonPayload.message, "(\\\\d+) of (\\\\d+)")',
        'REGEXP_EXTRACT(jsonPayload.message, "no group")',
    ],
)
def test_log_metric_extractors_refused(api, extractor):
    body = distribution(unique("d-"), valueExtractor=extractor)
    api.refused("metric.value_extractor", "POST", "logging", METRICS, body)


def test_log_metric_labels_need_an_extractor_each(api):
    body = distribution(unique("d-"), labelExtractors={})
    api.refused("metric.label_extractors", "POST", "logging", METRICS, body)
    bad = distribution(unique("d-"), labelExtractors={"secret": "secret"})
    api.refused("metric.label_extractors['secret']", "POST", "logging", METRICS, bad)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "metric.bucket_options"),
        (
            {
                "linearBuckets": {"numFiniteBuckets": 1, "width": 1},
                "explicitBuckets": {"bounds": [1]},
            },
            "metric.bucket_options",
        ),
        (
            {"exponentialBuckets": {"numFiniteBuckets": 10, "growthFactor": 1, "scale": 1}},
            "metric.bucket_options.exponential_buckets.growth_factor",
        ),
        (
            {"exponentialBuckets": {"numFiniteBuckets": 10, "growthFactor": 2, "scale": 0}},
            "metric.bucket_options.exponential_buckets.scale",
        ),
        (
            {"exponentialBuckets": {"numFiniteBuckets": 0, "growthFactor": 2, "scale": 1}},
            "metric.bucket_options.exponential_buckets.num_finite_buckets",
        ),
        (
            {"linearBuckets": {"numFiniteBuckets": 3, "width": 0}},
            "metric.bucket_options.linear_buckets.width",
        ),
        ({"explicitBuckets": {"bounds": []}}, "metric.bucket_options.explicit_buckets.bounds"),
        (
            {"explicitBuckets": {"bounds": [1, 3, 3]}},
            "metric.bucket_options.explicit_buckets.bounds",
        ),
    ],
    ids=[
        "none",
        "two-kinds",
        "growth-1",
        "scale-0",
        "no-buckets",
        "width-0",
        "no-bounds",
        "not-increasing",
    ],
)
def test_log_metric_bucket_options_refused(api, options, field):
    api.refused(
        field, "POST", "logging", METRICS, distribution(unique("d-"), bucketOptions=options)
    )


def test_log_metric_bucket_options_allowed(api):
    for options in (
        {"linearBuckets": {"numFiniteBuckets": 1, "width": 0.5, "offset": -3}},
        {"explicitBuckets": {"bounds": [7]}},
        {"explicitBuckets": {"bounds": [0, 60, 3600]}},
    ):
        api.accepted("POST", "logging", METRICS, distribution(unique("d-"), bucketOptions=options))


def test_log_metric_kind_value_type_and_label_types_cannot_be_updated(api):
    name = unique("d-")
    api.accepted("POST", "logging", METRICS, distribution(name))
    descriptor = distribution(name)["metricDescriptor"]
    path = f"{METRICS}/{name}"
    counter = {**descriptor, "valueType": "INT64"}
    counter.pop("unit")
    retyped = {**descriptor, "labels": [{"key": "secret", "valueType": "INT64"}]}
    for field, changed in (
        ("metric.metric_descriptor.value_type", counter),
        ("metric.metric_descriptor.labels", retyped),
    ):
        api.refused(field, "PUT", "logging", path, distribution(name, metricDescriptor=changed))
    # A new label, and a new description of an old one, are allowed.
    more = {
        **descriptor,
        "labels": [{"key": "secret", "description": "which"}, {"key": "action"}],
    }
    extractors = {"secret": "EXTRACT(jsonPayload.secret)", "action": "EXTRACT(jsonPayload.action)"}
    api.accepted(
        "PUT",
        "logging",
        path,
        distribution(name, metricDescriptor=more, labelExtractors=extractors),
    )


def test_a_counter_gets_the_default_descriptor(api, fake):
    name = unique("m-")
    api.accepted("POST", "logging", METRICS, metric(name))
    descriptor = fake.log_metrics[f"projects/{P}/metrics/{name}"]["metricDescriptor"]
    assert descriptor["metricKind"] == "DELTA"
    assert descriptor["valueType"] == "INT64"
    assert descriptor["type"] == f"logging.googleapis.com/user/{name}"


# ---------------------------------------------------------------------------------- alert conditions


def absence(duration: str, **changes: Any) -> JSON:
    condition = {
        "displayName": "no result",
        "conditionAbsent": {
            "filter": CUSTOM_FILTER,
            "aggregations": [
                {
                    "alignmentPeriod": "300s",
                    "perSeriesAligner": "ALIGN_DELTA",
                    "crossSeriesReducer": "REDUCE_SUM",
                }
            ],
            "duration": duration,
            **changes,
        },
    }
    return alert_policy(conditions=[condition])


@pytest.mark.parametrize("duration", ["120s", "180s", "25200s", "84600s"])
def test_absence_duration_allowed(api, duration):
    api.accepted("POST", "monitoring", POLICIES, absence(duration))


@pytest.mark.parametrize("duration", ["60s", "119s", "150s", "84660s", "86400s", "0s", "7h"])
def test_absence_duration_refused(api, duration):
    field = "alert_policy.conditions[0].condition_absent.duration"
    api.refused(field, "POST", "monitoring", POLICIES, absence(duration))


def test_metric_condition_rules(api):
    where = "alert_policy.conditions[0]"
    threshold = alert_policy()["conditions"][0]
    for field, condition in (
        (where, {"displayName": "none"}),
        (
            where,
            {**threshold, "conditionAbsent": absence("300s")["conditions"][0]["conditionAbsent"]},
        ),
        (f"{where}.name", {**threshold, "name": f"{POLICIES}/1/conditions/2"}),
        (
            f"{where}.condition_threshold.filter",
            {"conditionThreshold": {"filter": 'metric.type="custom.googleapis.com/x"'}},
        ),
        (
            f"{where}.condition_threshold.filter",
            {"conditionThreshold": {"filter": CUSTOM_FILTER + " " * 2048}},
        ),
        (
            f"{where}.condition_threshold.duration",
            {"conditionThreshold": {"filter": CUSTOM_FILTER, "duration": "90s"}},
        ),
        (
            f"{where}.condition_threshold.comparison",
            {"conditionThreshold": {"filter": CUSTOM_FILTER, "comparison": "COMPARISON_EQ"}},
        ),
    ):
        api.refused(field, "POST", "monitoring", POLICIES, alert_policy(conditions=[condition]))
    below = {"filter": CUSTOM_FILTER, "comparison": "COMPARISON_LT", "duration": "120s"}
    api.accepted(
        "POST", "monitoring", POLICIES, alert_policy(conditions=[{"conditionThreshold": below}])
    )


@pytest.mark.parametrize(
    ("aggregation", "field"),
    [
        ({"crossSeriesReducer": "REDUCE_SUM"}, "per_series_aligner"),
        (
            {"perSeriesAligner": "ALIGN_NONE", "crossSeriesReducer": "REDUCE_MIN"},
            "per_series_aligner",
        ),
        ({"perSeriesAligner": "ALIGN_DELTA"}, "alignment_period"),
        ({"perSeriesAligner": "ALIGN_DELTA", "alignmentPeriod": "30s"}, "alignment_period"),
        ({"perSeriesAligner": "ALIGN_DELTA", "alignmentPeriod": "90060s"}, "alignment_period"),
    ],
    ids=["reducer-alone", "reducer-align-none", "no-period", "period-30s", "period-over-25h"],
)
def test_aggregations_refused(api, aggregation, field):
    body = {"filter": CUSTOM_FILTER, "aggregations": [aggregation]}
    policy = alert_policy(conditions=[{"conditionThreshold": body}])
    where = f"alert_policy.conditions[0].condition_threshold.aggregations[0].{field}"
    api.refused(where, "POST", "monitoring", POLICIES, policy)


def test_aggregations_allowed(api):
    for aggregation in (
        {"perSeriesAligner": "ALIGN_DELTA", "alignmentPeriod": "60s"},
        {
            "perSeriesAligner": "ALIGN_PERCENTILE_05",
            "alignmentPeriod": "90000s",
            "crossSeriesReducer": "REDUCE_MIN",
        },
        {"alignmentPeriod": "1s"},  # ignored without an aligner
    ):
        body = {"filter": CUSTOM_FILTER, "aggregations": [aggregation]}
        api.accepted(
            "POST", "monitoring", POLICIES, alert_policy(conditions=[{"conditionThreshold": body}])
        )


def test_a_condition_on_a_log_based_metric_monitoring_does_not_know_is_not_found(api, fake):
    name = unique("m-")
    on_it = {
        "conditionThreshold": {
            "filter": f'metric.type="logging.googleapis.com/user/{name}" AND resource.type="cloud_run_revision"'
        }
    }
    status, answer = api.call("POST", "monitoring", POLICIES, alert_policy(conditions=[on_it]))
    assert (status, answer["error"]["status"]) == (404, "NOT_FOUND")
    assert "Cannot find metric(s) that match type" in answer["error"]["message"]
    fake.metric_unknown_writes = 1
    try:
        api.accepted("POST", "logging", METRICS, metric(name))
    finally:
        fake.metric_unknown_writes = 0
    status, _ = api.call("POST", "monitoring", POLICIES, alert_policy(conditions=[on_it]))
    assert status == 404, "a new metric takes a while to reach Cloud Monitoring"
    api.accepted("POST", "monitoring", POLICIES, alert_policy(conditions=[on_it]))


def test_updated_policies_obey_the_condition_rules_and_conditions_get_names(api):
    created = api.accepted("POST", "monitoring", POLICIES, alert_policy())
    [condition] = created["conditions"]
    assert condition["name"].startswith(created["name"] + "/conditions/")
    path = f"{POLICIES}/{created['name'].rsplit('/', 1)[-1]}"
    api.refused(
        "alert_policy.conditions[0].condition_absent.duration",
        "PATCH",
        "monitoring",
        path,
        absence("60s"),
    )


# ---------------------------------------------------------------------------------- dashboards

DASHBOARDS = f"/v1/projects/{P}/dashboards"


def dashboard(**changes: Any) -> JSON:
    tiles = [
        {
            "width": 24,
            "height": 16,
            "widget": {
                "title": "lifetime",
                "xyChart": {
                    "dataSets": [
                        {"timeSeriesQuery": {"timeSeriesFilter": {"filter": CUSTOM_FILTER}}}
                    ]
                },
            },
        },
        {
            "xPos": 24,
            "width": 24,
            "height": 8,
            "widget": {"alertChart": {"name": f"projects/{P}/alertPolicies/1"}},
        },
    ]
    return {"displayName": "d", "mosaicLayout": {"columns": 48, "tiles": tiles}, **changes}


def with_tile(**tile: Any) -> JSON:
    body = dashboard()
    body["mosaicLayout"]["tiles"][1] = {**body["mosaicLayout"]["tiles"][1], **tile}
    return body


def with_widget(widget: JSON) -> JSON:
    return with_tile(widget=widget)


def test_dashboard_create_get_list_patch_delete(api):
    created = api.accepted(
        "POST", "monitoring", DASHBOARDS, dashboard(name=f"projects/{P}/dashboards/mine")
    )
    assert created["name"] == f"projects/{P}/dashboards/mine"
    assert created["etag"]
    path = f"{DASHBOARDS}/mine"
    assert api.accepted("GET", "monitoring", path) == created
    listed = api.accepted("GET", "monitoring", DASHBOARDS)["dashboards"]
    assert created in listed
    status, _ = api.call(
        "POST", "monitoring", DASHBOARDS, dashboard(name=f"projects/{P}/dashboards/mine")
    )
    assert status == 409
    updated = api.accepted(
        "PATCH", "monitoring", path, {**dashboard(displayName="e"), "etag": created["etag"]}
    )
    assert updated["etag"] != created["etag"]
    status, answer = api.call("PATCH", "monitoring", path, {**dashboard(), "etag": created["etag"]})
    assert (status, answer["error"]["status"]) == (409, "ABORTED")
    api.refused("dashboard.display_name", "PATCH", "monitoring", path, dashboard(displayName=""))
    api.accepted("DELETE", "monitoring", path)
    status, _ = api.call("GET", "monitoring", path)
    assert status == 404


def test_dashboard_validate_only_stores_nothing(api, fake):
    before = dict(fake.dashboards)
    api.accepted("POST", "monitoring", DASHBOARDS, dashboard(), "validateOnly=true")
    assert fake.dashboards == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (dashboard(displayName=""), "dashboard.display_name"),
        (dashboard(etag="abc"), "dashboard.etag"),
        (dashboard(name="projects/elsewhere/dashboards/x"), "dashboard.name"),
        (dashboard(name=f"projects/{P}/x"), "dashboard.name"),
        (dashboard(gridLayout={"widgets": []}), "dashboard.layout"),
        (dashboard(mosaicLayout={"columns": 0, "tiles": []}), "dashboard.mosaic_layout.columns"),
        (dashboard(mosaicLayout={"columns": 49, "tiles": []}), "dashboard.mosaic_layout.columns"),
        (with_tile(xPos=25), "dashboard.mosaic_layout.tiles[1]"),
        (with_tile(yPos=-1), "dashboard.mosaic_layout.tiles[1]"),
        (with_tile(width=0), "dashboard.mosaic_layout.tiles[1]"),
        (with_tile(height=0), "dashboard.mosaic_layout.tiles[1]"),
        (
            with_widget({"text": {"content": "x"}, "blank": {}}),
            "dashboard.mosaic_layout.tiles[1].widget",
        ),
        (
            with_widget({"id": "a b", "blank": {}}),
            "dashboard.mosaic_layout.tiles[1].widget.id",
        ),
        (
            with_widget({"xyChart": {"dataSets": []}}),
            "dashboard.mosaic_layout.tiles[1].widget.xy_chart.data_sets",
        ),
        (
            with_widget({"xyChart": {"dataSets": [{"plotType": "LINE"}]}}),
            "dashboard.mosaic_layout.tiles[1].widget.xy_chart.data_sets[0].time_series_query",
        ),
        (
            with_widget({"alertChart": {"name": "1234"}}),
            "dashboard.mosaic_layout.tiles[1].widget.alert_chart.name",
        ),
        (
            with_widget({"alertChart": {"name": "POLICY_NAME"}}),
            "dashboard.mosaic_layout.tiles[1].widget.alert_chart.name",
        ),
    ],
    ids=[
        "no-display-name",
        "etag-on-create",
        "other-project",
        "name-form",
        "two-layouts",
        "columns-0",
        "columns-49",
        "tile-past-the-columns",
        "negative-position",
        "width-0",
        "height-0",
        "two-contents",
        "widget-id",
        "no-data-sets",
        "no-query",
        "alert-chart-bare-id",
        "alert-chart-placeholder",
    ],
)
def test_dashboard_rules(api, body, field):
    api.refused(field, "POST", "monitoring", DASHBOARDS, body)


def test_dashboard_edges_allowed(api):
    for body in (
        dashboard(
            mosaicLayout={
                "columns": 1,
                "tiles": [{"width": 1, "height": 1, "widget": {"blank": {}}}],
            }
        ),
        with_tile(xPos=24, width=24),
        with_widget({"id": "lifetime_by-secret", "text": {"content": "x", "format": "MARKDOWN"}}),
        dashboard(name=f"projects/{PROJECT_NUMBER}/dashboards/by-number"),
    ):
        api.accepted("POST", "monitoring", DASHBOARDS, body)


# ---------------------------------------------------------------------------------- regional secrets
# (issue 17: what deploy.sh sends for projects/P/locations/L/secrets/S, at L's endpoint)

EU, US = "europe-west4", "us-central1"


def regional_secrets(location: str) -> str:
    return f"/v1/projects/{P}/locations/{location}/secrets"


def regional_secret(fake: FakeGoogleApis, location: str, **labels: str) -> str:
    """A new regional secret (with one version) in ``location``; its REST path."""
    secret_id = unique("reg-")
    fake.add_secret(P, secret_id, (b"{}",), labels=labels or None, location=location)
    return f"{regional_secrets(location)}/{secret_id}"


def test_regional_secrets_are_served_by_their_locations_endpoint(api, fake):
    """Create, get, list, add a version, IAM policies and updates, all at L's endpoint, with the
    secret named projects/P/locations/L/secrets/S (returned with the project number)."""
    secret_id = unique("reg-")
    path = f"{regional_secrets(EU)}/{secret_id}"
    created = api.accepted(
        "POST", "secretmanager", regional_secrets(EU), {}, f"secretId={secret_id}", location=EU
    )
    assert created["name"] == f"projects/{PROJECT_NUMBER}/locations/{EU}/secrets/{secret_id}"
    assert api.accepted("GET", "secretmanager", path, location=EU)["name"] == created["name"]
    version = api.accepted(
        "POST", "secretmanager", f"{path}:addVersion", add_version(b"{}"), location=EU
    )
    assert version["name"] == f"{created['name']}/versions/1"
    assert "replicationStatus" not in version
    listed = api.accepted("GET", "secretmanager", f"{path}/versions", location=EU)
    assert [v["name"] for v in listed["versions"]] == [version["name"]]
    policy = api.accepted("GET", "secretmanager", f"{path}:getIamPolicy", location=EU)
    binding = {
        "role": f"projects/{P}/roles/momentoKeyRotator",
        "members": [f"serviceAccount:{FN_SA}"],
    }
    api.accepted(
        "POST",
        "secretmanager",
        f"{path}:setIamPolicy",
        {"policy": {**policy, "bindings": [binding]}},
        location=EU,
    )
    body = rotation_patch(nextRotationTime=in_minutes(60), rotationPeriod="86400s")
    updated = api.accepted("PATCH", "secretmanager", path, body, MASK, location=EU)
    assert updated["topics"] == body["topics"]
    [request] = [r for r in fake.requests if r.method == "PATCH" and r.path == path]
    assert (request.host, request.location) == (regional_host(EU), EU)


def test_the_global_endpoint_refuses_regional_names(api, fake):
    path = regional_secret(fake, EU)
    for method, suffix, body in (
        ("GET", "", None),
        ("POST", ":addVersion", add_version(b"{}")),
        ("GET", ":getIamPolicy", None),
        ("PATCH", "", {"labels": {}}),
    ):
        message = api.refused("name", method, "secretmanager", path + suffix, body)
        assert "does not match the expected format [projects/*/secrets/*]" in message
    api.refused("name", "GET", "secretmanager", regional_secrets(EU))
    api.refused("name", "POST", "secretmanager", regional_secrets(EU), {}, "secretId=x")


def test_a_regional_endpoint_serves_only_its_own_location(api, fake):
    path = regional_secret(fake, EU)
    message = api.refused("name", "GET", "secretmanager", path, location=US)
    assert regional_host(EU) in message
    api.refused(
        "name", "GET", "secretmanager", f"/v1/projects/{P}/secrets/momento-key", location=EU
    )
    api.refused("name", "GET", "secretmanager", f"/v1/projects/{P}/secrets", location=EU)


def test_only_served_locations_have_an_endpoint(api, fake):
    """The host of a location Secret Manager doesn't serve never resolves: the fake, as the
    proxy, refuses the tunnel, and records it."""
    mark = fake.mark()
    with pytest.raises(urllib.error.URLError, match="502"):
        api.call("GET", "secretmanager", regional_secrets("xx-north9"), location="xx-north9")
    [tunnel] = fake.since(mark)
    assert (tunnel.method, tunnel.status) == ("CONNECT", 502)
    assert tunnel.host == f"{regional_host('xx-north9')}:443"


def test_the_locations_api_knows_the_served_locations_only(api, fake):
    found = api.accepted("GET", "secretmanager", f"/v1/projects/{P}/locations/{EU}")
    assert found == {
        "name": f"projects/{PROJECT_NUMBER}/locations/{EU}",
        "locationId": EU,
        "displayName": EU,
    }
    status, answer = api.call("GET", "secretmanager", f"/v1/projects/{P}/locations/xx-north9")
    assert (status, answer["error"]["status"]) == (404, "NOT_FOUND")
    listed = api.accepted("GET", "secretmanager", f"/v1/projects/{P}/locations")
    assert [loc["locationId"] for loc in listed["locations"]] == sorted(fake.served_locations)
    fake.served_locations.add("xx-north9")
    try:
        api.accepted("GET", "secretmanager", f"/v1/projects/{P}/locations/xx-north9")
    finally:
        fake.served_locations.discard("xx-north9")


def test_a_regional_secret_has_no_replication(api):
    api.refused(
        "secret.replication",
        "POST",
        "secretmanager",
        regional_secrets(EU),
        AUTOMATIC,
        f"secretId={unique('reg-')}",
        location=EU,
    )


def test_the_same_id_globally_and_in_two_locations_is_three_secrets(api, fake):
    secret_id = unique("same-")
    fake.add_secret(P, secret_id, (b"global",))
    for location in (EU, US):
        api.accepted(
            "POST",
            "secretmanager",
            regional_secrets(location),
            {},
            f"secretId={secret_id}",
            location=location,
        )
    names = {
        f"projects/{PROJECT_NUMBER}/secrets/{secret_id}",
        f"projects/{PROJECT_NUMBER}/locations/{EU}/secrets/{secret_id}",
        f"projects/{PROJECT_NUMBER}/locations/{US}/secrets/{secret_id}",
    }
    assert names <= set(fake.snapshot()["secrets"])
    versions = api.accepted(
        "GET", "secretmanager", f"{regional_secrets(EU)}/{secret_id}/versions", location=EU
    )
    assert versions == {}, "the global secret's version is not the regional one's"


def test_list_secrets_is_per_location(api, fake):
    label = unique("l")
    eu = regional_secret(fake, EU, team=label)
    regional_secret(fake, US, team=label)
    fake.add_secret(P, unique("glob-"), labels={"team": label})
    query = f"filter=labels.team={label}"
    [listed] = api.accepted("GET", "secretmanager", regional_secrets(EU), query=query, location=EU)[
        "secrets"
    ]
    assert listed["name"] == eu.replace(f"/v1/projects/{P}", f"projects/{PROJECT_NUMBER}")
    [global_one] = api.accepted("GET", "secretmanager", SECRETS, query=query)["secrets"]
    assert "/locations/" not in global_one["name"]


def test_regional_secrets_follow_the_same_field_rules(api, fake):
    api.refused(
        "secret_id", "POST", "secretmanager", regional_secrets(EU), {}, "secretId=a.b", location=EU
    )
    api.refused(
        "labels",
        "POST",
        "secretmanager",
        regional_secrets(EU),
        {"labels": {"Env": "x"}},
        f"secretId={unique('reg-')}",
        location=EU,
    )
    path = regional_secret(fake, EU)
    api.refused(
        "payload.data",
        "POST",
        "secretmanager",
        f"{path}:addVersion",
        add_version(b"x" * 65537),
        location=EU,
    )
    for body, field in (
        (
            rotation_patch(nextRotationTime=in_minutes(60), rotationPeriod="1800s"),
            "secret.rotation.rotation_period",
        ),
        (
            rotation_patch(nextRotationTime=in_minutes(4), rotationPeriod="3600s"),
            "secret.rotation.next_rotation_time",
        ),
        ({"rotation": {"nextRotationTime": in_minutes(60)}}, "secret.rotation"),
    ):
        api.refused(field, "PATCH", "secretmanager", path, body, MASK, location=EU)
    bad = {"policy": {"bindings": [{"role": "owner", "members": [f"serviceAccount:{FN_SA}"]}]}}
    api.refused(
        "policy.bindings[0].role", "POST", "secretmanager", f"{path}:setIamPolicy", bad, location=EU
    )
