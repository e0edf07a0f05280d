"""The fake Cloud Scheduler: HTTP-target jobs (``/cloudscheduler/v1/projects/P/locations/L/jobs``).

The sources are named as in the package docstring.

| rule | source | test |
|---|---|---|
| job name: projects/PROJECT_ID/locations/LOCATION_ID/jobs/JOB_ID; PROJECT_ID of letters, digits, ``-``, ``:``, ``.``; JOB_ID 1-500 letters, digits, ``-``, ``_`` | job.proto Job.name | test_job_name_allowed, test_job_name_refused |
| job description: at most 500 characters | job.proto Job.description | test_job_description_is_at_most_500_characters |
| job schedule: required on create | job.proto Job.schedule | test_job_schedule_is_required_on_create |
| job time zone: a tz database name, or "utc" | job.proto Job.time_zone | test_job_time_zone_allowed, test_job_time_zone_refused (deploy.sh refuses one first, with the function's parser: test_a_schedule_the_function_refuses_stops_the_deploy_naming_the_flag) |
| HTTP target uri: begins with http:// or https://, at most 2083 characters | target.proto HttpTarget.uri | test_job_uri_is_http_or_https_and_at_most_2083_characters |
| HTTP target body: only with POST, PUT or PATCH | target.proto HttpTarget.body | test_job_body_needs_post_put_or_patch |
| HTTP target headers: total size under 80KB (read as 80 KiB) | target.proto HttpTarget.headers | test_job_headers_are_under_80kb |
| OIDC service account: within the job's project (checked for ``*.iam.gserviceaccount.com`` emails) | target.proto OidcToken.service_account_email | test_job_oidc_account_is_in_the_jobs_project |
| retry count: 0 to 5 | job.proto RetryConfig.retry_count | test_job_retry_count_is_0_to_5 |
| durations (min/max backoff, max retry duration, attempt deadline): protobuf Duration JSON, decimal seconds with at most 9 fractional digits and "s" | google/protobuf/duration.proto (JSON mapping) | test_job_durations_are_protobuf_durations |
| attempt deadline for HTTP targets: 15 s to 30 min | job.proto Job.attempt_deadline | test_job_attempt_deadline_is_15s_to_30m_for_http_targets |
| job updates (PATCH) obey the same rules | as above | test_job_update_is_checked_too |
| unknown: the schedule grammar (crontab or "English-like"); only its presence is checked here (deploy.sh itself refuses all but unix-cron, with the function's parser and its own reading of the fields) | | |
| unknown: bounds on min/max backoff, max retry duration and max doublings (the docstrings give defaults only); only their format is checked | | |
| unknown: which header names Cloud Scheduler refuses (the docstring says some are "ignored or replaced"); none refused | | |
"""  # noqa: E501 - the rule table keeps one row per line

from __future__ import annotations

import copy
import functools
import re
import zoneinfo
from typing import Any

from .common import JSON, ApiError, Call, Routes, apply_mask, not_found, now
from .rules import duration, integer, invalid, string, utf8_size

# Cloud Scheduler: job.proto Job, RetryConfig; target.proto HttpTarget, OidcToken.
_JOB_NAME = re.compile(
    r"projects/(?P<project>[A-Za-z0-9:.-]+)/locations/(?P<location>[^/\s]+)"
    r"/jobs/(?P<job>[A-Za-z0-9_-]{1,500})"
)
MAX_JOB_DESCRIPTION = 500
MAX_URI = 2083
MAX_HEADER_BYTES = 80 * 1024  # "less than 80KB"; read as KiB, the lenient reading
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
HTTP_METHODS = frozenset({"HTTP_METHOD_UNSPECIFIED", "POST", "GET", "HEAD", "PUT", "DELETE"})
HTTP_METHODS |= {"PATCH", "OPTIONS"}
MAX_RETRY_COUNT = 5
MIN_ATTEMPT_DEADLINE_S, MAX_ATTEMPT_DEADLINE_S = 15, 30 * 60


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_job(job: JSON, *, project: str, creating: bool) -> None:
    if "name" in job:
        name = string(job["name"], "job.name")
        if not _JOB_NAME.fullmatch(name):
            raise invalid(
                "job.name",
                f"Invalid job name {name!r}: use projects/PROJECT_ID/locations/LOCATION_ID/jobs/"
                "JOB_ID, JOB_ID being at most 500 letters, numbers, hyphens or underscores",
            )
    if "description" in job and len(string(job["description"], "job.description")) > 500:
        raise invalid("job.description", "description must not contain more than 500 characters")
    if creating and not job.get("schedule"):
        raise invalid("job.schedule", "schedule is required")
    if "timeZone" in job:
        zone = string(job["timeZone"], "job.time_zone")
        if zone != "utc" and zone not in _time_zones():
            raise invalid("job.time_zone", f"Invalid time zone {zone!r}: use a tz database name")
    if "httpTarget" in job:
        _check_http_target(job["httpTarget"], project)
        if "attemptDeadline" in job:
            deadline = duration(job["attemptDeadline"], "job.attempt_deadline")
            if not MIN_ATTEMPT_DEADLINE_S <= deadline <= MAX_ATTEMPT_DEADLINE_S:
                raise invalid(
                    "job.attempt_deadline",
                    f"attempt_deadline {job['attemptDeadline']} is outside [15 seconds, 30 "
                    "minutes], the allowed range for HTTP targets",
                )
    elif "attemptDeadline" in job:
        duration(job["attemptDeadline"], "job.attempt_deadline")
    if "retryConfig" in job:
        _check_retry_config(job["retryConfig"])


def _check_http_target(target: Any, project: str) -> None:
    if not isinstance(target, dict):
        raise invalid("job.http_target", "http_target must be an object")
    uri = string(target.get("uri", ""), "job.http_target.uri")
    if not uri.startswith(("http://", "https://")) or len(uri) > MAX_URI:
        raise invalid(
            "job.http_target.uri",
            f"Invalid uri {uri!r}: it must begin with http:// or https:// and be at most "
            f"{MAX_URI} characters",
        )
    method = target.get("httpMethod", "POST")
    if method not in HTTP_METHODS:
        raise invalid("job.http_target.http_method", f"Invalid http_method {method!r}")
    if target.get("body") and method not in BODY_METHODS:
        raise invalid(
            "job.http_target.body",
            f"A request body is allowed only if the HTTP method is POST, PUT, or PATCH, not "
            f"{method}",
        )
    headers = target.get("headers") or {}
    if not isinstance(headers, dict):
        raise invalid("job.http_target.headers", "headers must be a map of strings")
    size = sum(
        utf8_size(k) + utf8_size(string(v, "job.http_target.headers")) for k, v in headers.items()
    )
    if size >= MAX_HEADER_BYTES:
        raise invalid("job.http_target.headers", "The total size of headers must be under 80KB")
    oidc = target.get("oidcToken") or {}
    email = string(oidc.get("serviceAccountEmail", ""), "job.http_target.oidc_token")
    domain = email.partition("@")[2]
    if domain.endswith(".iam.gserviceaccount.com") and domain.split(".")[0] != project:
        raise invalid(
            "job.http_target.oidc_token.service_account_email",
            f"Service account {email} is not in project {project}: the service account must "
            "be within the same project as the job",
        )


def _check_retry_config(config: Any) -> None:
    if not isinstance(config, dict):
        raise invalid("job.retry_config", "retry_config must be an object")
    if "retryCount" in config:
        count = integer(config["retryCount"], "job.retry_config.retry_count")
        if not 0 <= count <= MAX_RETRY_COUNT:
            raise invalid(
                "job.retry_config.retry_count",
                f"retry_count {count}: values greater than 5 and negative values are not allowed",
            )
    for key, path in (
        ("minBackoffDuration", "job.retry_config.min_backoff_duration"),
        ("maxBackoffDuration", "job.retry_config.max_backoff_duration"),
        ("maxRetryDuration", "job.retry_config.max_retry_duration"),
    ):
        if key in config:
            duration(config[key], path)
    if "maxDoublings" in config:
        integer(config["maxDoublings"], "job.retry_config.max_doublings")


class SchedulerApi(Routes):
    """Cloud Scheduler jobs."""

    jobs: dict[str, JSON]

    def _add_scheduler_routes(self) -> None:
        route = self._route
        loc = "/projects/{project}/locations/{location}"

        # --- Cloud Scheduler
        @route("GET", "cloudscheduler", "/v1" + loc + "/jobs/{job}")
        def get_job(c: Call) -> JSON:
            return self._job(self._job_name(c.params))

        @route("POST", "cloudscheduler", "/v1" + loc + "/jobs")
        def create_job(c: Call) -> JSON:
            job: JSON = copy.deepcopy(c.body)
            check_job(job, project=c.params["project"], creating=True)
            name = job.get("name", "")
            if name in self.jobs:
                raise ApiError(409, f"Job {name} already exists")
            job.setdefault("httpTarget", {}).setdefault("headers", {})
            job["httpTarget"]["headers"]["User-Agent"] = "Google-Cloud-Scheduler"
            job.update(state="ENABLED", userUpdateTime=now())
            self.jobs[name] = job
            return job

        @route("PATCH", "cloudscheduler", "/v1" + loc + "/jobs/{job}")
        def update_job(c: Call) -> JSON:
            name = self._job_name(c.params)
            job = copy.deepcopy(self._job(name))
            apply_mask(job, c.body, c.q("updateMask") or ",".join(c.body))
            check_job(job, project=c.params["project"], creating=False)
            job["userUpdateTime"] = now()
            self.jobs[name] = job
            return job

        @route("DELETE", "cloudscheduler", "/v1" + loc + "/jobs/{job}")
        def delete_job(c: Call) -> JSON:
            del self.jobs[self._job(self._job_name(c.params))["name"]]
            return {}

        @route("POST", "cloudscheduler", "/v1" + loc + "/jobs/{job}:run")
        def run_job(c: Call) -> JSON:
            return self._job(self._job_name(c.params))

    @staticmethod
    def _job_name(params: dict[str, str]) -> str:
        return f"projects/{params['project']}/locations/{params['location']}/jobs/{params['job']}"

    def _job(self, name: str) -> JSON:
        if name not in self.jobs:
            raise not_found(f"Job {name}")
        return self.jobs[name]
