"""A local fake of the Google Cloud REST APIs that `deploy.sh` drives through the real gcloud CLI.

It keeps just enough state for create / describe / update / delete flows and records every
request (method, API, path, query, headers without Authorization, body) in memory and, when
asked, to a JSONL file, so tests can assert on what gcloud actually sent.

Point gcloud at it with :func:`gcloud_env`. Each API gets its own path prefix
(``http://127.0.0.1:PORT/<api>/``), so routing never depends on guessing the service from a path.
The server is also an HTTP proxy: gcloud builds regional Cloud Run hosts
(``us-central1-<override host>``) that never resolve, and a proxy catches those requests. And
Secret Manager's regional endpoints, ``https://secretmanager.LOCATION.rep.googleapis.com/``
(where deploy.sh sends each command on a regional secret), reach it as ``CONNECT HOST:443``: for
a location it serves (``served_locations``) it answers the tunnel over TLS as that host, with a
certificate from its own throwaway authority (``ca_file``, which :func:`gcloud_env` has gcloud
trust); each request records the ``host`` it went to. Any other host is refused (502), as one
that does not resolve.

Run standalone::

    python -m devtools.fake_google_apis --port 0 --record requests.jsonl

It prints ``fake google apis listening on 127.0.0.1:PORT``, then a line naming the certificate
authority to trust for the regional endpoints (``CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE``), then
serves until killed. ``--served-locations us-central1,europe-west4`` sets the locations Secret
Manager serves.

Documented rules it enforces
----------------------------

An emulator proves only what it enforces. Every value deploy.sh sends through gcloud is checked
against the rule Google documents for it, and a value past the rule is answered the way Google
answers: HTTP 400, status INVALID_ARGUMENT, with a ``google.rpc.BadRequest`` field violation,
and nothing is stored (updates are checked on the resulting resource before it is kept). The
messages are the fake's own words: don't parse them. Tests are in tests/deploy/ (the rule tests
in test_fake_rules.py talk HTTP to the fake; test_deploy*.py run the real gcloud).

"iam.proto" is google/iam/admin/v1/iam.proto, "policy.proto" google/iam/v1/policy.proto, "job.proto"/"target.proto" are
google/cloud/scheduler/v1/, "functions.proto" google/cloud/functions/v2/, "service.proto"/
"resources.proto" google/cloud/secretmanager/v1/, "alert.proto"/"common.proto" google/monitoring/v3/,
"dashboard.proto"/"layouts.proto"/"widget.proto"/"xychart.proto"/"metrics.proto"/"alertchart.proto"
google/monitoring/dashboard/v1/, "distribution.proto" google/api/, all in
github.com/googleapis/googleapis. The same comments are in the installed gcloud SDK's generated
messages (monitoring_v3_messages.py, monitoring_v1_messages.py, logging_v2_messages.py), where
these were read.

| rule | source | test |
|---|---|---|
| service account id: 6-30 chars matching ``[a-z]([-a-z0-9]*[a-z0-9])`` | iam.proto CreateServiceAccountRequest.account_id | test_service_account_id_allowed, test_service_account_id_refused |
| service account display name: at most 100 UTF-8 bytes | iam.proto ServiceAccount.display_name | test_service_account_display_name_is_at_most_100_utf8_bytes |
| service account description: at most 256 UTF-8 bytes | iam.proto ServiceAccount.description | test_service_account_description_is_at_most_256_utf8_bytes |
| custom role id: 3-64 chars of letters, digits, ``_`` and ``.`` | iam.proto CreateRoleRequest.role_id; IAM "Quotas and limits" (custom role ID 64 bytes) | test_custom_role_id_allowed, test_custom_role_id_refused |
| custom role title: at most 100 UTF-8 bytes | IAM "Quotas and limits" (custom role title 100 bytes); iam.proto Role.title ("typically limited to 100 UTF-8 bytes") | test_custom_role_title_is_at_most_100_utf8_bytes |
| custom role description: at most 300 UTF-8 bytes | IAM "Quotas and limits" (custom role description 300 bytes) | test_custom_role_description_is_at_most_300_utf8_bytes |
| custom role stage: ALPHA, BETA, GA, DEPRECATED, DISABLED or EAP | iam.proto Role.RoleLaunchStage | test_custom_role_stage_is_a_launch_stage |
| permissions: the form service.resource.verb | IAM "Roles and permissions" / "Understanding custom roles" | test_custom_role_permissions_are_service_resource_verb |
| role updates (PATCH) obey the same rules | as above | test_custom_role_update_is_checked_too |
| IAM policy members: allUsers, allAuthenticatedUsers, user:/serviceAccount:/group:EMAIL, domain:, deleted:, principal://, principalSet:// | google/iam/v1/policy.proto Binding.members (principal:// and principalSet:// from IAM "Principal identifiers", accepted so as not to be stricter than Google) | test_policy_members_allowed, test_policy_members_refused |
| IAM policy roles: roles/ID, projects/P/roles/ID, organizations/O/roles/ID | policy.proto Binding.role; IAM "Roles and permissions" (role names) | test_policy_roles_have_a_role_name_form |
| secret id: 1-255 letters, numerals, ``-`` and ``_`` | service.proto CreateSecretRequest.secret_id | test_secret_id_is_at_most_255_letters_digits_hyphens_underscores |
| secret labels: the label rules below | resources.proto Secret.labels | test_secret_labels_follow_the_label_rules |
| secret payload: at most 64 KiB | resources.proto SecretPayload.data | test_secret_payload_is_at_most_64_kib |
| secret payload checksum: data_crc32c, when sent, must match | resources.proto SecretPayload.data_crc32c | test_secret_payload_checksum_must_match |
| regional secrets, ``projects/P/locations/L/secrets/S``, are served by L's regional endpoint ``secretmanager.L.rep.googleapis.com``: create (parent ``projects/P/locations/L``), get, list, versions add and list, IAM policy get and set, update; names come back with the project number and the location | "Secret Manager locations" (regional endpoints); "Create a regional secret" ("Regional endpoints use the following format: SERVICE_NAME.LOCATION.rep.googleapis.com"; gcloud: configure the regional endpoint first); "REST Resource: projects.locations.secrets" (name "projects/*/locations/*/secrets/*"); service.proto CreateSecretRequest.parent, ListSecretsRequest.parent | test_regional_secrets_are_served_by_their_locations_endpoint |
| the global endpoint refuses a regional name: 400 INVALID_ARGUMENT "The provided Secret ID [...] does not match the expected format [projects/*/secrets/*]" | seen in public reports: googleapis/google-cloud-python#13389, quarkiverse/quarkus-google-cloud-services#919 | test_the_global_endpoint_refuses_regional_names; every regional call deploy.sh makes goes to its location's endpoint: test_every_regional_call_goes_to_its_locations_endpoint_and_no_other |
| a regional endpoint serves its own location only: a name in another location, or a global name, is refused | "Secret Manager locations" ("Regional endpoints are request endpoints that only allow requests to proceed if the affected resource exists in the location specified by the endpoint") | test_a_regional_endpoint_serves_only_its_own_location |
| only a location Secret Manager serves has a regional endpoint: a tunnel to any other host is refused, as a host that does not resolve | "Secret Manager locations" (one regional endpoint per supported location) | test_only_served_locations_have_an_endpoint; deploy.sh never calls one: test_a_location_secret_manager_does_not_serve_is_refused_before_anything_is_created |
| the Locations API, on the global endpoint: GetLocation (``projects/P/locations/L``) returns a served location (name with the project number, location_id), NOT_FOUND for another; ListLocations (``projects/P``) lists the served ones | "Method: projects.locations.get" and "Method: projects.locations.list" (``GET https://secretmanager.googleapis.com/v1/{name=projects/*/locations/*}``); "gcloud secrets locations describe"; AIP-131 (NOT_FOUND) | test_the_locations_api_knows_the_served_locations_only |
| a regional secret has no replication: a create (or update) carrying one is refused | "REST Resource: projects.locations.secrets" (its JSON representation has no replication field); gcloud refuses ``--replication-policy`` with ``--location`` (surface/secrets/create.py) | test_a_regional_secret_has_no_replication; deploy.sh seeds one without: test_the_regional_seed_secret_is_created_without_replication_in_its_location |
| a regional secret and a global one with the same id, or two locations' with the same id, are different secrets | "REST Resource: projects.locations.secrets" (the location is part of the name) | test_the_same_id_globally_and_in_two_locations_is_three_secrets |
| ListSecrets is per location: ``projects/P/locations/L`` lists L's secrets only | "List regional secrets and view secret details" (``gcloud secrets list --location=LOCATION``); service.proto ListSecretsRequest.parent | test_list_secrets_is_per_location |
| regional secrets follow every secret rule above: secret id, labels, payload, topics, rotation (period 1 h to 100 years, next time 5 minutes ahead, topics needed), IAM policy members and roles | "REST Resource: projects.locations.secrets" (the same fields); the regional "Create rotation schedules" page (the same requirements) | test_regional_secrets_follow_the_same_field_rules |
| services:batchEnable: at most 20 services | google/api/serviceusage/v1/serviceusage.proto BatchEnableServicesRequest.service_ids | test_batch_enable_takes_at_most_20_services |
| function id: 1-63 of letters, digits, ``-``, ``_`` (what both sources allow; see unknowns) | functions.proto CreateFunctionRequest.function_id; "Deploy a Cloud Run function" | test_function_id_allowed, test_function_id_refused |
| function labels: at most 64; keys 1-63 and values 0-63 of lowercase letters (international allowed), digits, ``_``, ``-``; keys start with a lowercase letter | Resource Manager "Creating and managing labels" (Requirements for labels), required by Cloud Run "Configure labels for services" ("Only valid Google Cloud labels"); same regexes as resources.proto Secret.labels | test_function_labels_allowed, test_function_labels_refused; test_fingerprint_label_fits_googles_label_rules (deploy.sh's 40-hex fingerprint) |
| env var names: not empty, no ``=``, no ``X_GOOGLE_`` prefix, not PORT, K_SERVICE, K_REVISION, K_CONFIGURATION, FUNCTION_TARGET, FUNCTION_SIGNATURE_TYPE | Cloud Run "Environment variables for services" (Reserved environment variables for functions; reserved names of the container runtime contract) | test_function_env_var_names_that_are_reserved_or_invalid_are_refused, test_function_env_var_names_near_the_reserved_ones_are_allowed |
| env vars: at most 1000, names and values together at most 32 KiB | same page (maximum number; variable size limits for functions) | test_function_env_vars_are_at_most_1000_and_32_kib |
| memory: a number with unit k, M, G, Mi, Gi (or bytes), from 128M to 32Gi | functions.proto ServiceConfig.available_memory (units); "Configure memory and vCPU limits" (128 MiB to 32 GiB) | test_function_memory_allowed, test_function_memory_refused |
| timeout: at most 3600 s for HTTP functions, 540 s for event-driven | "Function timeout" | test_function_timeout_is_at_most_3600s_for_http_and_540s_for_events |
| build service account: projects/{projectId}/serviceAccounts/{email} | functions.proto BuildConfig.service_account | test_function_build_service_account_is_a_resource_name |
| runtime: required when creating | functions.proto BuildConfig.runtime | test_function_runtime_is_required_on_create |
| function updates (PATCH) obey the same rules | as above | test_function_update_is_checked_too |
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
| Pub/Sub topic name: projects/P/topics/T, T starting with a letter, 3-255 letters, digits, ``-_.~+%``, not starting with "goog" | google/pubsub/v1/pubsub.proto Topic.name | test_topic_name_allowed, test_topic_name_refused |
| topic and project IAM policies: the policy member and role rules above | policy.proto Binding.members, Binding.role | test_topic_and_project_policies_follow_the_policy_rules |
| secret topics: at most 10, each a topic name | resources.proto Secret.topics, Topic.name | test_secret_topics_are_at_most_10_topic_names |
| secret rotation: Secret.topics must be set to configure rotation | resources.proto Rotation | test_secret_rotation_needs_topics |
| rotation period: in seconds, 3600s (1h) to 3153600000s (100 years) | resources.proto Rotation.rotation_period | test_secret_rotation_period_is_1h_to_100_years_in_seconds |
| rotation period set: next_rotation_time must be set | resources.proto Rotation.rotation_period | test_secret_rotation_period_needs_a_next_rotation_time |
| next rotation time: at least 5 minutes in the future (checked when the request sets it) | resources.proto Rotation.next_rotation_time | test_secret_next_rotation_time_is_at_least_5_minutes_ahead |
| update mask: a masked field absent from the body is cleared (``--remove-rotation-schedule --remove-topics``) | google/protobuf/field_mask.proto (update semantics); AIP-134 | test_removing_the_schedule_and_topics_clears_them |
| event trigger: event_type required; pubsub_topic a topic name; retry_policy RETRY_POLICY_UNSPECIFIED, RETRY_POLICY_DO_NOT_RETRY or RETRY_POLICY_RETRY | functions.proto EventTrigger | test_function_event_trigger_is_checked |
| log metric name: at most 100 of A-Z, a-z, 0-9 and ``_-.,+!*',()%/``, not starting with ``/`` | google/logging/v2/logging_metrics.proto LogMetric.name | test_log_metric_name_allowed, test_log_metric_name_refused |
| log metric filter: required, at most 20000 characters; description at most 8000 characters (create and update) | logging_metrics.proto LogMetric.filter, LogMetric.description | test_log_metric_filter_and_description_limits |
| alert policy: no name on create; display name at most 512 characters and not unique; 1 to 6 conditions; channels projects/[PROJECT_ID_OR_NUMBER]/notificationChannels/[CHANNEL_ID]; severity CRITICAL, ERROR, WARNING or unspecified; user labels the label rules (create and update) | google/monitoring/v3/alert.proto AlertPolicy.name, display_name, conditions, notification_channels, severity, user_labels | test_alert_policy_rules |
| log metric without a descriptor: DELTA, INT64, unit "1", type logging.googleapis.com/user/NAME (what a counter is, and what later updates are checked against) | logging_metrics.proto LogMetric.metric_descriptor ("If unspecified, it uses a default metric descriptor...") | test_a_counter_gets_the_default_descriptor |
| distribution log metric: metric kind DELTA, a value_extractor, and bucket_options | logging_metrics.proto LogMetric.metric_descriptor, value_extractor, bucket_options | test_log_metric_distribution_needs_a_delta_kind_a_value_extractor_and_buckets |
| extractors (value and labels): EXTRACT(field) or REGEXP_EXTRACT(field, regex), the regex with exactly one capture group | logging_metrics.proto LogMetric.value_extractor; label_extractors ("the same as for the value_extractor field") | test_log_metric_extractors_allowed, test_log_metric_extractors_refused |
| each label of the metric descriptor has an extractor in label_extractors | logging_metrics.proto LogMetric.label_extractors, metric_descriptor | test_log_metric_labels_need_an_extractor_each |
| bucket options: exactly one of linear, exponential, explicit; exponential growth_factor > 1, scale > 0, num_finite_buckets > 0; linear width > 0, num_finite_buckets > 0; explicit bounds at least one, strictly increasing | distribution.proto Distribution.BucketOptions (oneof options; Linear, Exponential, Explicit) | test_log_metric_bucket_options_refused, test_log_metric_bucket_options_allowed |
| log metric updates: metric kind and value type can't change; an existing label only its description | logging_metrics.proto LogMetric.metric_descriptor ("cannot be updated once initially configured"; "existing labels cannot be modified except for their description") | test_log_metric_kind_value_type_and_label_types_cannot_be_updated |
| alert condition: exactly one condition type; no condition name on create; Cloud Monitoring names each condition | alert.proto AlertPolicy.Condition (oneof condition), Condition.name | test_metric_condition_rules, test_updated_policies_obey_the_condition_rules_and_conditions_get_names |
| threshold and absence filters: required, at most 2048 characters, naming the metric type and the resource type | alert.proto MetricThreshold.filter, MetricAbsence.filter | test_metric_condition_rules |
| threshold: duration a multiple of a minute; comparison COMPARISON_LT or COMPARISON_GT ("only ... are supported currently") | alert.proto MetricThreshold.duration, comparison | test_metric_condition_rules |
| absence duration: at least 120 s, a multiple of a minute, at most 23.5 hours (84,600 s) | alert.proto MetricAbsence.duration; "Create metric-absence alerting policies" (trigger absence time "up to a maximum of 23.5 hours") | test_absence_duration_allowed, test_absence_duration_refused |
| aggregations: a cross-series reducer needs a per-series aligner other than ALIGN_NONE; such an aligner needs an alignment period of 60 s to 90,000 s (25 h, the alerting limit) | google/monitoring/v3/common.proto Aggregation.alignment_period, cross_series_reducer, per_series_aligner | test_aggregations_refused, test_aggregations_allowed |
| a condition on a log-based metric Cloud Monitoring doesn't know (yet): 404 "Cannot find metric(s) that match type = ...", a new metric taking "up to 10 minutes" | seen in public reports: hashicorp/terraform-provider-google#11102, GoogleCloudPlatform/cloud-foundation-fabric#3739 | test_a_condition_on_a_log_based_metric_monitoring_does_not_know_is_not_found; deploy.sh waits: test_a_new_metric_unknown_to_monitoring_is_waited_for |
| dashboard: display name required; no etag on create; name projects/PROJECT/dashboards/ID, its project the parent's (id or number); one layout | dashboard.proto Dashboard.display_name, etag, name, oneof layout; CreateDashboardRequest.parent ("must match the dashboard resource name") | test_dashboard_rules, test_dashboard_edges_allowed |
| mosaic layout: 1 to 48 columns; tiles at least 1 wide and high, x_pos and y_pos not negative, inside the columns | layouts.proto MosaicLayout.columns, MosaicLayout.Tile | test_dashboard_rules, test_dashboard_edges_allowed |
| widgets: one content (oneof content); ids of letters, digits, - and _; an XY chart has data sets, each a time series query, a time series filter its filter; an alert chart names projects/[PROJECT_ID_OR_NUMBER]/alertPolicies/[ALERT_POLICY_ID] | widget.proto Widget; xychart.proto XyChart.data_sets, DataSet.time_series_query; metrics.proto TimeSeriesFilter.filter; alertchart.proto AlertChart.name | test_dashboard_rules |
| dashboards: create (ALREADY_EXISTS for a taken name), get, list, patch (replaces the dashboard; an etag sent must be the current one), delete; validate_only stores nothing | dashboard.proto Dashboard.etag; dashboards_service.proto (CreateDashboardRequest.validate_only) | test_dashboard_create_get_list_patch_delete, test_dashboard_validate_only_stores_nothing |
| refusals: 400, INVALID_ARGUMENT, BadRequest field violation | google/rpc/error_details.proto BadRequest; AIP-193 | test_refusals_have_googles_error_shape |
| unknown: function id length 1-3, upper case, ``_``, leading digit. functions.proto says "4-63 characters, valid characters /[a-z][0-9]-/"; the deploy guide says "start with a letter followed by up to 62 letters, numbers, hyphens, or underscores, end with a letter or a number". The fake refuses only what both refuse; deploy.sh asks for the stricter 4-63 of a-z, 0-9, - | | |
| unknown: memory between 128M (decimal) and 128Mi, and values between the listed tiers; the fake accepts them | | |
| unknown: a lower bound for timeoutSeconds, and bounds on maxInstanceCount; not checked | | |
| unknown: which runtime ids exist (the fake lists python311-313 but does not refuse others) and any rule for entryPoint | | |
| unknown: the schedule grammar (crontab or "English-like"); only its presence is checked here (deploy.sh itself refuses all but unix-cron, with the function's parser and its own reading of the fields) | | |
| unknown: bounds on min/max backoff, max retry duration and max doublings (the docstrings give defaults only); only their format is checked | | |
| unknown: which header names Cloud Scheduler refuses (the docstring says some are "ignored or replaced"); none refused | | |
| unknown: the number of permissions a custom role may hold, and whether a permission exists or is supported in custom roles; only the form is checked | | |
| unknown: whether a binding may name a custom role or a service account that does not exist (or is deleted); not checked | | |
| unknown: the status of a data_crc32c mismatch; 400 INVALID_ARGUMENT, as devtools/emulators/secret_manager.py answers | | |
| unknown: whether labels also have a byte limit (some APIs document 128 bytes); not checked | | |
| unknown: whether Secret Manager refuses a rotation topic that does not exist or that its service agent may not publish to (Topic.name says only that publication needs the permission); not refused, and deploy.sh grants before it schedules | | |
| unknown: whether Secret Manager returns Secret.topics names with the project id or number; the fake returns them as sent, deploy.sh matches by topic id | | |
| unknown: the fake never advances next_rotation_time or publishes SECRET_ROTATE; deploy.sh only checks that one is set | | |
| unknown: secrets.list filter grammar beyond ``labels.KEY=VALUE`` (what deploy.sh sends); the fake refuses other terms | | |
| unknown: the filter grammar beyond naming a metric type and a resource type; which aligners and reducers suit which metric kinds and value types (the enum docs say, for example, that ALIGN_PERCENTILE_05 takes distributions and ALIGN_MEAN numbers; not checked); whether a notification channel must exist or sit in the same project (only its form is checked) | | |
| unknown: the absence limit past 23.5 h: one reading of a newer metric-absence page gives 24 h in the console and 24.5 h through the API; the stored copies say 23.5 h, which the fake enforces (the stricter) | | |
| unknown: how long a new log-based metric stays unknown to Cloud Monitoring ("up to 10 minutes"); the fake refuses ``metric_unknown_writes`` policy writes on each new metric (0 unless a test sets it) | | |
| unknown: the number of buckets a distribution may have (deploy.sh uses 142), the key rules and count of logs-based metric labels, and whether an extractor without a descriptor label or a removed label is refused; not checked | | |
| unknown: RE2 against Python's re: the fake counts a REGEXP_EXTRACT's groups with re, and lets through a regex re can't compile | | |
| unknown: whether the services answer lists (descriptor labels, conditions, tiles) in the order sent; the fake does, and deploy.sh compares in order | | |
| unknown: what Cloud Monitoring answers a dashboard update with a stale etag (the fake: 409 ABORTED, as for IAM policies); the rules of a dashboard id, and whether a deleted dashboard's id can be used again at once (the fake: any path segment, reusable) | | |
| unknown: what generateServiceIdentity answers for a project whose agent exists; the fake answers the same email every time | | |
| unknown: which labels.* a Pub/Sub topic accepts beyond the label rules; deploy.sh sends none | | |
| unknown: the status of a call on a regional endpoint naming another location's secret or a global one; the fake answers 400 INVALID_ARGUMENT | | |
| unknown: the global endpoint's refusal of regional names is reported for gRPC clients; the fake refuses REST calls the same way (gcloud sends ``--location`` calls to the global endpoint unless told otherwise, and deploy.sh tells it) | | |
| unknown: which locations Secret Manager serves (the fake's default set is its own choice; tests set ``served_locations``); the status of GetLocation for one it doesn't serve (the fake: 404 NOT_FOUND), the Location's project (id or number; the fake: number) and other fields; whether a regional endpoint serves the Locations API (the fake: the global one only, which deploy.sh uses) | | |
| unknown: what a client meets for an unserved location's host is a failed DNS lookup, not an answer; the fake, as the proxy, refuses the tunnel with 502 (gcloud retries, then fails, after about 30 s) | | |
| unknown: whether Secret Manager refuses or ignores a replication sent for a regional secret, and whether a regional version reports a replication status; the fake refuses it and reports none | | |
| unknown: whether ListSecrets with parent ``projects/P`` also lists regional secrets; the fake lists the global ones only | | |
| unknown: whether ``secretmanager.secrets.list`` on the project (the lister role) covers ListSecrets in a location; the fake checks no permissions | | |
"""  # noqa: E501 - the rule table keeps one row per line

from __future__ import annotations

import argparse
import base64
import copy
import functools
import io
import itertools
import json
import re
import shutil
import signal
import ssl
import sys
import tempfile
import threading
import unicodedata
import zipfile
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google_crc32c
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["API_OVERRIDES", "JSON", "FakeGoogleApis", "RecordedRequest", "gcloud_env"]

JSON = dict[str, Any]

PROJECT_NUMBER = "123456789012"
"""Every project the fake knows has this number; names it returns use it, like Google's do."""

API_OVERRIDES = (
    "artifactregistry",
    "cloudbuild",
    "cloudfunctions",
    "cloudresourcemanager",
    "cloudscheduler",
    "eventarc",
    "iam",
    "logging",
    "monitoring",
    "pubsub",
    "run",
    "secretmanager",
    "serviceusage",
    "storage",
)
"""The gcloud API names the fake overrides, each served under ``/<name>/``."""

FUNCTIONS_OPERATION_TYPE = "type.googleapis.com/google.cloud.functions.v2.OperationMetadata"
FUNCTION_TYPE = "type.googleapis.com/google.cloud.functions.v2.Function"
BATCH_ENABLE_TYPE = "type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse"
SERVICE_IDENTITY_TYPE = "type.googleapis.com/google.api.serviceusage.v1beta1.ServiceIdentity"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
READ_ONLY_SUFFIXES = (":getIamPolicy", ":testIamPermissions", ":generateUploadUrl")

# Secret Manager's regional endpoints ("Secret Manager locations":
# SERVICE.LOCATION.rep.googleapis.com). A call to one arrives through the proxy as CONNECT
# HOST:443, then TLS (see _TunnelCertificates).
_REGIONAL_HOST = re.compile(
    r"secretmanager\.(?P<location>[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)\.rep\.googleapis\.com"
)
DEFAULT_SERVED_LOCATIONS = frozenset(
    {"europe-west1", "europe-west4", "me-central2", "us-central1", "us-east1"}
)
"""The locations the fake's Secret Manager serves unless told otherwise (the fake's choice, not
Google's list: tests set ``served_locations``)."""
REGIONAL_API = "secretmanager.rep"
"""The route table's name for Secret Manager's regional endpoints (recorded as api secretmanager,
with the endpoint's host)."""


def regional_host(location: str) -> str:
    return f"secretmanager.{location}.rep.googleapis.com"


def gcloud_env(
    base_url: str,
    config_dir: Path,
    *,
    project: str | None = None,
    ca_file: Path | None = None,
) -> dict[str, str]:
    """The environment variables that make gcloud talk only to the fake at ``base_url``.

    ``config_dir`` becomes ``CLOUDSDK_CONFIG``, a throwaway gcloud configuration folder.
    ``ca_file`` (the fake's :attr:`FakeGoogleApis.ca_file`) becomes the CA gcloud trusts, so the
    fake can answer the HTTPS calls gcloud tunnels through it to Secret Manager's regional
    endpoints (``https://secretmanager.LOCATION.rep.googleapis.com/``).
    """
    parts = urlsplit(base_url)
    env = {
        "CLOUDSDK_CONFIG": str(config_dir),
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
        "CLOUDSDK_SURVEY_DISABLE_PROMPTS": "true",
        "CLOUDSDK_PROXY_TYPE": "http",
        "CLOUDSDK_PROXY_ADDRESS": parts.hostname or "127.0.0.1",
        "CLOUDSDK_PROXY_PORT": str(parts.port),
    }
    if project:
        env["CLOUDSDK_CORE_PROJECT"] = project
    if ca_file is not None:
        env["CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE"] = str(ca_file)
    for api in API_OVERRIDES:
        env[f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}"] = f"{base_url}/{api}/"
    return env


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it. ``body`` is parsed JSON, text, or a summary of binary.

    ``host`` is the Google host a tunnelled request went to (a regional endpoint, such as
    ``secretmanager.us-central1.rep.googleapis.com``); empty for the fake's own address.
    """

    method: str
    api: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int
    host: str = ""

    @property
    def location(self) -> str | None:
        """The location of the regional endpoint the request went to; None: a global one."""
        match = _REGIONAL_HOST.fullmatch(self.host.rsplit(":", 1)[0]) if self.host else None
        return match["location"] if match else None

    @property
    def mutating(self) -> bool:
        """Whether the request can change state (reads and IAM policy reads are not)."""
        if self.method in {"GET", "HEAD"} or self.api == "oauth2":
            return False
        return not self.path.endswith(READ_ONLY_SUFFIXES)

    def as_json(self) -> JSON:
        return {
            "method": self.method,
            "api": self.api,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "host": self.host,
        }

    def text(self) -> str:
        """Everything recorded about the request as one string, for searching."""
        return json.dumps(self.as_json(), sort_keys=True)


_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
}


class _TunnelCertificates:
    """A throwaway certificate authority, and a server certificate for each host gcloud tunnels
    to (Secret Manager's regional endpoints), so the fake can answer them over TLS. gcloud trusts
    the authority through ``CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE`` (:func:`gcloud_env`)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake google apis test CA")])
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        self.ca = (
            self._builder(subject, subject, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.folder = Path(tempfile.mkdtemp(prefix="fake-google-apis-"))
        self.ca_file = self.folder / "ca.pem"
        self.ca_file.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def _builder(
        self, subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=7))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )

    def context(self, host: str) -> ssl.SSLContext:
        """A server TLS context presenting a certificate for ``host``."""
        with self._lock:
            if host not in self._contexts:
                key = ec.generate_private_key(ec.SECP256R1())
                subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
                certificate = (
                    self._builder(subject, self.ca.subject, key.public_key())
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), False)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
                    .sign(self._key, hashes.SHA256())
                )
                pem = self.folder / f"{host}.pem"
                pem.write_bytes(
                    certificate.public_bytes(serialization.Encoding.PEM)
                    + key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(pem)
                self._contexts[host] = context
            return self._contexts[host]

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class ApiError(Exception):
    """Answered as a Google-style JSON error.

    ``field`` (a request field path) adds a ``google.rpc.BadRequest`` detail with one field
    violation, the way Google's APIs describe an INVALID_ARGUMENT.
    """

    def __init__(
        self, code: int, message: str, status: str | None = None, *, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_NAMES.get(code, "UNKNOWN")
        self.field = field

    def as_json(self) -> JSON:
        error: JSON = {"code": self.code, "message": self.message, "status": self.status}
        if self.field is not None:
            violation = {"field": self.field, "description": self.message}
            error["details"] = [{"@type": BAD_REQUEST_TYPE, "fieldViolations": [violation]}]
        return {"error": error}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _apply_mask(resource: JSON, patch: JSON, mask: str) -> None:
    """Copy the fields named in a field mask from ``patch`` into ``resource`` (absent = cleared)."""
    for dotted in filter(None, (p.strip() for p in mask.split(","))):
        keys = [_camel(k) for k in dotted.split(".")]
        source: Any = patch
        for key in keys:
            source = source.get(key) if isinstance(source, dict) else None
        target = resource
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        if source is None:
            target.pop(keys[-1], None)
        else:
            target[keys[-1]] = copy.deepcopy(source)


@dataclass
class _IamPolicy:
    """A resource IAM policy; its etag is bytes on the wire, so it travels base64-encoded."""

    bindings: list[JSON] = field(default_factory=list)
    generation: int = 0

    @property
    def etag(self) -> str:
        return base64.b64encode(f"etag-{self.generation}".encode()).decode()

    def as_json(self) -> JSON:
        policy: JSON = {"version": 1, "etag": self.etag}
        if self.bindings:
            policy["bindings"] = copy.deepcopy(self.bindings)
        return policy

    def replace(self, policy: JSON) -> JSON:
        sent = policy.get("etag")
        if sent and _b64decode(sent) != _b64decode(self.etag):
            raise ApiError(409, "etag mismatch: the policy changed concurrently", "ABORTED")
        self.bindings = [b for b in policy.get("bindings", []) if b.get("members")]
        self.generation += 1
        return self.as_json()


def _b64decode(value: str) -> bytes:
    padded = value + "=" * (-len(value) % 4)
    return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))


# ---------------------------------------------------------------------------------- the rules
# Each check enforces one documented rule from the table in the module docstring, and answers
# 400 INVALID_ARGUMENT with a BadRequest field violation, as Google's APIs do. Nothing is stored
# when a check fails: handlers validate the whole resulting resource before keeping it.


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, message, "INVALID_ARGUMENT", field=field)


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _invalid(field, f"Invalid value at '{field}': expected a string")
    return value


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _invalid(field, f"Invalid value at '{field}': expected an integer")
    try:
        return int(value)
    except ValueError:
        raise _invalid(field, f"Invalid value at '{field}' ({value!r}): not an integer") from None


def _max_bytes(value: Any, field: str, limit: int) -> None:
    text = _string(value, field)
    if _utf8_size(text) > limit:
        raise _invalid(field, f"{field} is {_utf8_size(text)} bytes of UTF-8; the limit is {limit}")


# IAM: iam.proto CreateServiceAccountRequest.account_id.
_ACCOUNT_ID = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])")


def check_account_id(account_id: Any) -> None:
    value = _string(account_id, "account_id")
    if not (6 <= len(value) <= 30 and _ACCOUNT_ID.fullmatch(value)):
        raise _invalid(
            "account_id",
            f"Invalid account_id {value!r}: it must be 6-30 characters long and match "
            "[a-z]([-a-z0-9]*[a-z0-9])",
        )


def check_service_account(details: Any) -> None:
    if not isinstance(details, dict):
        raise _invalid("service_account", "service_account must be an object")
    if "displayName" in details:  # iam.proto ServiceAccount.display_name
        _max_bytes(details["displayName"], "service_account.display_name", 100)
    if "description" in details:  # iam.proto ServiceAccount.description
        _max_bytes(details["description"], "service_account.description", 256)


# IAM custom roles: iam.proto CreateRoleRequest.role_id; IAM "Quotas and limits" (Limits).
_ROLE_ID = re.compile(r"[A-Za-z0-9_.]{3,64}")
ROLE_STAGES = frozenset({"ALPHA", "BETA", "GA", "DEPRECATED", "DISABLED", "EAP"})
# "Roles and permissions": permissions are represented as service.resource.verb.
_PERMISSION = re.compile(r"[^.\s]+\.[^.\s]+\.[^.\s]+")


def check_role_id(role_id: Any) -> None:
    value = _string(role_id, "role_id")
    if not _ROLE_ID.fullmatch(value):
        raise _invalid(
            "role_id",
            f"Invalid role_id {value!r}: a role ID may contain alphanumeric characters, "
            "underscores (_) and periods (.), and be 3 to 64 characters long",
        )


def check_role(role: Any) -> None:
    if not isinstance(role, dict):
        raise _invalid("role", "role must be an object")
    if "title" in role:
        _max_bytes(role["title"], "role.title", 100)
    if "description" in role:
        _max_bytes(role["description"], "role.description", 300)
    if "stage" in role and role["stage"] not in ROLE_STAGES:
        raise _invalid("role.stage", f"Invalid value at 'role.stage' ({role['stage']!r})")
    permissions = role.get("includedPermissions", [])
    if not isinstance(permissions, list):
        raise _invalid("role.included_permissions", "included_permissions must be a list")
    for index, permission in enumerate(permissions):
        field = f"role.included_permissions[{index}]"
        if not _PERMISSION.fullmatch(_string(permission, field)):
            raise _invalid(
                field,
                f"Permission {permission!r} is not valid: permissions have the form "
                "service.resource.verb",
            )


# IAM policies: policy.proto Binding.members and Binding.role; "Roles and permissions" (names).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_MEMBER_EMAIL_KINDS = ("user:", "serviceAccount:", "group:")
_MEMBER_OTHER_KINDS = ("domain:", "deleted:", "principal://", "principalSet://")
_ROLE_NAME = re.compile(
    r"roles/[A-Za-z0-9_.]+|(projects/[^/\s]+|organizations/[0-9]+)/roles/[A-Za-z0-9_.]+"
)


def check_policy(policy: Any) -> None:
    if not isinstance(policy, dict):
        raise _invalid("policy", "policy must be an object")
    bindings = policy.get("bindings", [])
    if not isinstance(bindings, list):
        raise _invalid("policy.bindings", "bindings must be a list")
    for i, binding in enumerate(bindings):
        if not isinstance(binding, dict):
            raise _invalid(f"policy.bindings[{i}]", "a binding must be an object")
        role = _string(binding.get("role"), f"policy.bindings[{i}].role")
        if not _ROLE_NAME.fullmatch(role):
            raise _invalid(
                f"policy.bindings[{i}].role",
                f"Role {role!r} is not a role name: use roles/ID, projects/PROJECT/roles/ID "
                "or organizations/ORGANIZATION/roles/ID",
            )
        members = binding.get("members", [])
        if not isinstance(members, list):
            raise _invalid(f"policy.bindings[{i}].members", "members must be a list")
        for j, member in enumerate(members):
            _check_member(_string(member, f"policy.bindings[{i}].members[{j}]"), i, j)


def _check_member(member: str, i: int, j: int) -> None:
    if member in {"allUsers", "allAuthenticatedUsers"}:
        return
    for kind in _MEMBER_EMAIL_KINDS:
        if member.startswith(kind) and _EMAIL.fullmatch(member.removeprefix(kind)):
            return
    if member.startswith(_MEMBER_OTHER_KINDS) and member.partition(":")[2].strip("/"):
        return
    raise _invalid(
        f"policy.bindings[{i}].members[{j}]",
        f"Invalid member {member!r}: use allUsers, allAuthenticatedUsers, user:EMAIL, "
        "serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, deleted:..., principal://... or "
        "principalSet://...",
    )


# Labels: Resource Manager "Creating and managing labels" (Requirements for labels), which
# Cloud Run's "Configure labels" page points to; the same rule as the Secret.labels docstring.
MAX_LABELS = 64


def _label_char(char: str, *, first: bool) -> bool:
    category = unicodedata.category(char)
    if category in {"Ll", "Lo"}:
        return True
    return not first and (char in "_-" or category.startswith("N"))


def check_labels(labels: Any, field: str = "labels") -> None:
    if not isinstance(labels, dict):
        raise _invalid(field, f"{field} must be a map of strings")
    if len(labels) > MAX_LABELS:
        raise _invalid(field, f"{len(labels)} labels; no more than {MAX_LABELS} are allowed")
    for key, value in labels.items():
        text = _string(value, f"{field}[{key!r}]")
        if not (
            1 <= len(key) <= 63
            and _label_char(key[0], first=True)
            and all(_label_char(c, first=False) for c in key)
        ):
            raise _invalid(
                field,
                f"Label key {key!r} is not valid: 1-63 lowercase letters, digits, _ and -, "
                "starting with a lowercase letter",
            )
        if not (len(text) <= 63 and all(_label_char(c, first=False) for c in text)):
            raise _invalid(
                field,
                f"Label value {text!r} (key {key!r}) is not valid: 0-63 lowercase letters, "
                "digits, _ and -",
            )


# Secret Manager: service.proto CreateSecretRequest.secret_id; resources.proto SecretPayload.
_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
MAX_PAYLOAD_BYTES = 64 * 1024


def check_secret_id(secret_id: Any) -> None:
    value = _string(secret_id, "secret_id")
    if not _SECRET_ID.fullmatch(value):
        raise _invalid(
            "secret_id",
            f"Invalid secret_id {value!r}: at most 255 letters, numerals, hyphens (-) and "
            "underscores (_)",
        )


def check_payload(payload: Any) -> None:
    if not isinstance(payload, dict):
        raise _invalid("payload", "payload must be an object")
    try:
        data = base64.b64decode(_string(payload.get("data", ""), "payload.data"), validate=True)
    except ValueError:
        raise _invalid("payload.data", "Invalid value at 'payload.data': not base64") from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise _invalid("payload.data", f"Secret payload is {len(data)} bytes; the limit is 64 KiB")
    if "dataCrc32c" in payload:
        sent = _integer(payload["dataCrc32c"], "payload.data_crc32c")
        if sent != google_crc32c.value(data):
            raise _invalid(
                "payload.data_crc32c",
                "Checksum mismatch. Data corrupted in transit or request is invalid.",
            )


# Service Usage: serviceusage.proto BatchEnableServicesRequest.service_ids.
MAX_BATCH_ENABLE = 20


def check_batch_enable(service_ids: Any) -> None:
    if not isinstance(service_ids, list):
        raise _invalid("service_ids", "service_ids must be a list")
    if len(service_ids) > MAX_BATCH_ENABLE:
        raise _invalid(
            "service_ids",
            f"{len(service_ids)} services in one request; a single request can enable a "
            f"maximum of {MAX_BATCH_ENABLE}",
        )


# Cloud Functions v2: what both documents allow of a function id (see the docstring table).
_FUNCTION_ID = re.compile(r"[A-Za-z0-9_-]{1,63}")
# "Environment variables for services" (Reserved environment variables for functions) and the
# Cloud Run container runtime contract it points to (K_CONFIGURATION).
RESERVED_ENV_VARS = frozenset(
    {
        "PORT",
        "K_SERVICE",
        "K_REVISION",
        "K_CONFIGURATION",
        "FUNCTION_TARGET",
        "FUNCTION_SIGNATURE_TYPE",
    }
)
MAX_ENV_VARS = 1000
MAX_ENV_BYTES = 32 * 1024
# functions.proto ServiceConfig.available_memory: units k, M, G, Mi, Gi, or bytes.
_MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(k|M|G|Mi|Gi)?")
_MEMORY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Mi": 2**20, "Gi": 2**30}
# "Configure memory and vCPU limits": from 128 MiB to 32 GiB. 128M (decimal) is let through,
# see the table.
MIN_MEMORY_BYTES, MAX_MEMORY_BYTES = 128 * 10**6, 32 * 2**30
# "Function timeout": 60 minutes for HTTP functions, 9 minutes for event-driven ones.
MAX_HTTP_TIMEOUT_S, MAX_EVENT_TIMEOUT_S = 3600, 540
_BUILD_ACCOUNT = re.compile(r"projects/[^/\s]+/serviceAccounts/[^/@\s]+@[^/@\s]+")


def check_function_id(function_id: Any) -> None:
    value = _string(function_id, "function_id")
    if not _FUNCTION_ID.fullmatch(value):
        raise _invalid(
            "function_id",
            f"Invalid function_id {value!r}: at most 63 letters, digits, hyphens and underscores",
        )


def check_function(function: JSON, *, creating: bool) -> None:
    if "labels" in function:
        check_labels(function["labels"])
    build = function.get("buildConfig") or {}
    service = function.get("serviceConfig") or {}
    if creating and not build.get("runtime"):
        raise _invalid("build_config.runtime", "runtime is required when creating a function")
    if build.get("serviceAccount"):
        account = _string(build["serviceAccount"], "build_config.service_account")
        if not _BUILD_ACCOUNT.fullmatch(account):
            raise _invalid(
                "build_config.service_account",
                f"Invalid build service account {account!r}: the format is "
                "projects/{projectId}/serviceAccounts/{serviceAccountEmail}",
            )
    _check_env_vars(service.get("environmentVariables") or {})
    if "eventTrigger" in function:
        _check_event_trigger(function["eventTrigger"])
    if "availableMemory" in service:
        _check_memory(service["availableMemory"])
    if "timeoutSeconds" in service:
        timeout = _integer(service["timeoutSeconds"], "service_config.timeout_seconds")
        limit = MAX_EVENT_TIMEOUT_S if function.get("eventTrigger") else MAX_HTTP_TIMEOUT_S
        if timeout > limit:
            raise _invalid(
                "service_config.timeout_seconds",
                f"timeout_seconds {timeout} is over the maximum of {limit} seconds",
            )


# functions.proto EventTrigger.
RETRY_POLICIES = frozenset({"RETRY_POLICY_UNSPECIFIED", "RETRY_POLICY_DO_NOT_RETRY"})
RETRY_POLICIES |= {"RETRY_POLICY_RETRY"}


def _check_event_trigger(trigger: Any) -> None:
    if not isinstance(trigger, dict):
        raise _invalid("event_trigger", "event_trigger must be an object")
    if not trigger.get("eventType"):
        raise _invalid("event_trigger.event_type", "event_type is required")
    if "pubsubTopic" in trigger:
        check_topic_name(trigger["pubsubTopic"], "event_trigger.pubsub_topic")
    if trigger.get("retryPolicy", "RETRY_POLICY_UNSPECIFIED") not in RETRY_POLICIES:
        raise _invalid(
            "event_trigger.retry_policy", f"Invalid retry_policy {trigger['retryPolicy']!r}"
        )


def _check_env_vars(variables: Any) -> None:
    field = "service_config.environment_variables"
    if not isinstance(variables, dict):
        raise _invalid(field, "environment_variables must be a map of strings")
    if len(variables) > MAX_ENV_VARS:
        raise _invalid(field, f"{len(variables)} environment variables; the maximum is 1000")
    size = 0
    for key, value in variables.items():
        size += _utf8_size(key) + _utf8_size(_string(value, f"{field}[{key!r}]"))
        if not key or "=" in key or key.startswith("X_GOOGLE_") or key in RESERVED_ENV_VARS:
            raise _invalid(
                field,
                f"Environment variable name {key!r} is reserved or invalid: names cannot be "
                "empty, contain '=', start with X_GOOGLE_, or be one of "
                + ", ".join(sorted(RESERVED_ENV_VARS)),
            )
    if size > MAX_ENV_BYTES:
        raise _invalid(field, f"environment variables take {size} bytes; the limit is 32 KiB")


def _check_memory(value: Any) -> None:
    field = "service_config.available_memory"
    match = _MEMORY.fullmatch(_string(value, field))
    if match is None:
        raise _invalid(field, f"Invalid memory {value!r}: a number with unit k, M, G, Mi or Gi")
    size = float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""]
    if not MIN_MEMORY_BYTES <= size <= MAX_MEMORY_BYTES:
        raise _invalid(field, f"Invalid memory {value!r}: it must be from 128Mi to 32Gi")


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
# google/protobuf/duration.proto, JSON mapping: seconds with up to 9 fractional digits and "s".
_DURATION = re.compile(r"(-?[0-9]+(?:\.[0-9]{1,9})?)s")
MAX_DURATION_S = 315_576_000_000
MIN_ATTEMPT_DEADLINE_S, MAX_ATTEMPT_DEADLINE_S = 15, 30 * 60


def _duration(value: Any, field: str) -> float:
    match = _DURATION.fullmatch(_string(value, field))
    if match is None or abs(float(match.group(1))) > MAX_DURATION_S:
        raise _invalid(field, f"Invalid value at '{field}' ({value!r}): not a Duration")
    return float(match.group(1))


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_job(job: JSON, *, project: str, creating: bool) -> None:
    if "name" in job:
        name = _string(job["name"], "job.name")
        if not _JOB_NAME.fullmatch(name):
            raise _invalid(
                "job.name",
                f"Invalid job name {name!r}: use projects/PROJECT_ID/locations/LOCATION_ID/jobs/"
                "JOB_ID, JOB_ID being at most 500 letters, numbers, hyphens or underscores",
            )
    if "description" in job and len(_string(job["description"], "job.description")) > 500:
        raise _invalid("job.description", "description must not contain more than 500 characters")
    if creating and not job.get("schedule"):
        raise _invalid("job.schedule", "schedule is required")
    if "timeZone" in job:
        zone = _string(job["timeZone"], "job.time_zone")
        if zone != "utc" and zone not in _time_zones():
            raise _invalid("job.time_zone", f"Invalid time zone {zone!r}: use a tz database name")
    if "httpTarget" in job:
        _check_http_target(job["httpTarget"], project)
        if "attemptDeadline" in job:
            deadline = _duration(job["attemptDeadline"], "job.attempt_deadline")
            if not MIN_ATTEMPT_DEADLINE_S <= deadline <= MAX_ATTEMPT_DEADLINE_S:
                raise _invalid(
                    "job.attempt_deadline",
                    f"attempt_deadline {job['attemptDeadline']} is outside [15 seconds, 30 "
                    "minutes], the allowed range for HTTP targets",
                )
    elif "attemptDeadline" in job:
        _duration(job["attemptDeadline"], "job.attempt_deadline")
    if "retryConfig" in job:
        _check_retry_config(job["retryConfig"])


def _check_http_target(target: Any, project: str) -> None:
    if not isinstance(target, dict):
        raise _invalid("job.http_target", "http_target must be an object")
    uri = _string(target.get("uri", ""), "job.http_target.uri")
    if not uri.startswith(("http://", "https://")) or len(uri) > MAX_URI:
        raise _invalid(
            "job.http_target.uri",
            f"Invalid uri {uri!r}: it must begin with http:// or https:// and be at most "
            f"{MAX_URI} characters",
        )
    method = target.get("httpMethod", "POST")
    if method not in HTTP_METHODS:
        raise _invalid("job.http_target.http_method", f"Invalid http_method {method!r}")
    if target.get("body") and method not in BODY_METHODS:
        raise _invalid(
            "job.http_target.body",
            f"A request body is allowed only if the HTTP method is POST, PUT, or PATCH, not "
            f"{method}",
        )
    headers = target.get("headers") or {}
    if not isinstance(headers, dict):
        raise _invalid("job.http_target.headers", "headers must be a map of strings")
    size = sum(
        _utf8_size(k) + _utf8_size(_string(v, "job.http_target.headers"))
        for k, v in headers.items()
    )
    if size >= MAX_HEADER_BYTES:
        raise _invalid("job.http_target.headers", "The total size of headers must be under 80KB")
    oidc = target.get("oidcToken") or {}
    email = _string(oidc.get("serviceAccountEmail", ""), "job.http_target.oidc_token")
    domain = email.partition("@")[2]
    if domain.endswith(".iam.gserviceaccount.com") and domain.split(".")[0] != project:
        raise _invalid(
            "job.http_target.oidc_token.service_account_email",
            f"Service account {email} is not in project {project}: the service account must "
            "be within the same project as the job",
        )


def _check_retry_config(config: Any) -> None:
    if not isinstance(config, dict):
        raise _invalid("job.retry_config", "retry_config must be an object")
    if "retryCount" in config:
        count = _integer(config["retryCount"], "job.retry_config.retry_count")
        if not 0 <= count <= MAX_RETRY_COUNT:
            raise _invalid(
                "job.retry_config.retry_count",
                f"retry_count {count}: values greater than 5 and negative values are not allowed",
            )
    for key, path in (
        ("minBackoffDuration", "job.retry_config.min_backoff_duration"),
        ("maxBackoffDuration", "job.retry_config.max_backoff_duration"),
        ("maxRetryDuration", "job.retry_config.max_retry_duration"),
    ):
        if key in config:
            _duration(config[key], path)
    if "maxDoublings" in config:
        _integer(config["maxDoublings"], "job.retry_config.max_doublings")


# Pub/Sub: google/pubsub/v1/pubsub.proto Topic.name.
_TOPIC_NAME = re.compile(r"projects/(?P<project>[^/\s]+)/topics/(?P<topic>[^/\s]+)")
_TOPIC_ID = re.compile(r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}")


def check_topic_name(name: Any, field: str = "name") -> None:
    text = _string(name, field)
    match = _TOPIC_NAME.fullmatch(text)
    topic = match["topic"] if match else ""
    if not _TOPIC_ID.fullmatch(topic) or topic.lower().startswith("goog"):
        raise _invalid(
            field,
            f"Invalid topic name {text!r}: projects/PROJECT/topics/TOPIC, TOPIC starting with a "
            "letter, 3-255 letters, numbers, dashes, periods, underscores, tildes, plus or "
            'percent signs, and not starting with "goog"',
        )


# Secret Manager: resources.proto Secret.topics, Rotation.
MAX_SECRET_TOPICS = 10
MIN_ROTATION_PERIOD_S, MAX_ROTATION_PERIOD_S = 3600, 3_153_600_000
MIN_ROTATION_LEAD_S = 300
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)")


def _timestamp(value: Any, field: str) -> datetime:
    text = _string(value, field)
    if not _TIMESTAMP.fullmatch(text):
        raise _invalid(field, f"Invalid value at '{field}' ({text!r}): not an RFC 3339 Timestamp")
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed)


def check_secret_notifications(secret: JSON, *, new_next_rotation: bool) -> None:
    """Secret.topics and Secret.rotation, on the secret as it would be stored."""
    topics = secret.get("topics") or []
    if not isinstance(topics, list) or len(topics) > MAX_SECRET_TOPICS:
        raise _invalid("secret.topics", f"A secret may have at most {MAX_SECRET_TOPICS} topics")
    for i, topic in enumerate(topics):
        if not isinstance(topic, dict):
            raise _invalid(f"secret.topics[{i}]", "a topic must be an object")
        check_topic_name(topic.get("name"), f"secret.topics[{i}].name")
    rotation = secret.get("rotation") or {}
    if not rotation:
        return
    if not topics:
        raise _invalid("secret.rotation", "Secret.topics must be set to configure rotation")
    if "rotationPeriod" in rotation:
        period = _duration(rotation["rotationPeriod"], "secret.rotation.rotation_period")
        if not MIN_ROTATION_PERIOD_S <= period <= MAX_ROTATION_PERIOD_S:
            raise _invalid(
                "secret.rotation.rotation_period",
                f"rotation_period {rotation['rotationPeriod']} must be at least 3600s (1h) and "
                "at most 3153600000s (100 years)",
            )
        if "nextRotationTime" not in rotation:
            raise _invalid(
                "secret.rotation.next_rotation_time",
                "If rotation_period is set, next_rotation_time must be set",
            )
    if "nextRotationTime" in rotation:
        when = _timestamp(rotation["nextRotationTime"], "secret.rotation.next_rotation_time")
        lead = (when - datetime.now(UTC)).total_seconds()
        if new_next_rotation and lead < MIN_ROTATION_LEAD_S:
            raise _invalid(
                "secret.rotation.next_rotation_time",
                "next_rotation_time must be at least 5 minutes in the future",
            )


def secret_matches_filter(secret: JSON, filter_text: str) -> bool:
    """The one filter form deploy.sh sends: labels.KEY=VALUE (ANDed when space-separated)."""
    labels = secret.get("labels") or {}
    for term in filter_text.split():
        if term.upper() == "AND":
            continue
        match = re.fullmatch(r"labels\.([^=:]+)[=:](.*)", term)
        if match is None:
            raise _invalid("filter", f"The fake only understands labels.KEY=VALUE, not {term!r}")
        if labels.get(match[1]) != match[2].strip('"'):
            return False
    return True


# Cloud Logging: google/logging/v2/logging_metrics.proto LogMetric.
_METRIC_NAME = re.compile(r"[A-Za-z0-9_\-.,+!*'()%/]{1,100}")
MAX_METRIC_FILTER, MAX_METRIC_DESCRIPTION = 20_000, 8_000
# LogMetric.value_extractor (and label_extractors, "the same syntax"): EXTRACT(field) or
# REGEXP_EXTRACT(field, regex), the regex with exactly one capture group.
_EXTRACT = re.compile(r"\s*EXTRACT\(\s*([A-Za-z_@][^\s(),]*)\s*\)\s*")
_REGEXP_EXTRACT = re.compile(
    r'\s*REGEXP_EXTRACT\(\s*([A-Za-z_@][^\s(),]*)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)\s*'
)
METRIC_KINDS = frozenset({"DELTA", "GAUGE", "CUMULATIVE"})
VALUE_TYPES = frozenset({"BOOL", "INT64", "DOUBLE", "STRING", "DISTRIBUTION", "MONEY"})
LABEL_VALUE_TYPES = frozenset({"STRING", "BOOL", "INT64"})
# What LogMetric.metric_descriptor is "if unspecified": a DELTA INT64 count with unit "1".
DEFAULT_METRIC_DESCRIPTOR: JSON = {"metricKind": "DELTA", "valueType": "INT64", "unit": "1"}


def check_log_metric(metric: Any, *, current: JSON | None = None) -> None:
    """LogMetric's documented rules; ``current`` is the stored metric when this is an update."""
    if not isinstance(metric, dict):
        raise _invalid("metric", "metric must be an object")
    name = _string(metric.get("name", ""), "metric.name")
    if not _METRIC_NAME.fullmatch(name) or name.startswith("/"):
        raise _invalid(
            "metric.name",
            f"Invalid metric name {name!r}: at most 100 of A-Z, a-z, 0-9 and _-.,+!*',()%/, "
            "not starting with /",
        )
    filter_text = _string(metric.get("filter", ""), "metric.filter")
    if not filter_text or len(filter_text) > MAX_METRIC_FILTER:
        raise _invalid("metric.filter", "filter is required, at most 20000 characters")
    if len(_string(metric.get("description", ""), "metric.description")) > MAX_METRIC_DESCRIPTION:
        raise _invalid("metric.description", "description is at most 8000 characters")
    descriptor = metric.get("metricDescriptor") or {}
    if not isinstance(descriptor, dict):
        raise _invalid("metric.metric_descriptor", "metric_descriptor must be an object")
    kind = descriptor.get("metricKind", DEFAULT_METRIC_DESCRIPTOR["metricKind"])
    value_type = descriptor.get("valueType", DEFAULT_METRIC_DESCRIPTOR["valueType"])
    if kind not in METRIC_KINDS:
        raise _invalid("metric.metric_descriptor.metric_kind", f"Invalid metric_kind {kind!r}")
    if value_type not in VALUE_TYPES:
        raise _invalid("metric.metric_descriptor.value_type", f"Invalid value_type {value_type!r}")
    if "valueExtractor" in metric:
        _check_extractor(metric["valueExtractor"], "metric.value_extractor")
    if value_type == "DISTRIBUTION":
        _check_distribution(metric, kind)
    if "bucketOptions" in metric:
        _check_bucket_options(metric["bucketOptions"])
    _check_metric_labels(descriptor, metric.get("labelExtractors") or {})
    if current is not None:
        _check_metric_update(current.get("metricDescriptor") or {}, descriptor)


def _check_distribution(metric: JSON, kind: str) -> None:
    if kind != "DELTA":
        raise _invalid(
            "metric.metric_descriptor.metric_kind",
            "A distribution logs-based metric must have a DELTA metric kind",
        )
    if not metric.get("valueExtractor"):
        raise _invalid(
            "metric.value_extractor",
            "A value_extractor is required when using a distribution logs-based metric",
        )
    if not metric.get("bucketOptions"):
        raise _invalid(
            "metric.bucket_options",
            "bucket_options are required when the logs-based metric is using a DISTRIBUTION "
            "value type",
        )


def _check_extractor(expression: Any, field: str) -> None:
    text = _string(expression, field)
    if _EXTRACT.fullmatch(text):
        return
    match = _REGEXP_EXTRACT.fullmatch(text)
    if match is None:
        raise _invalid(
            field,
            f"Invalid extractor {text!r}: use EXTRACT(field) or REGEXP_EXTRACT(field, regex)",
        )
    try:  # Python's re stands in for RE2 here: only the count of groups is checked
        groups = re.compile(match.group(2).encode().decode("unicode_escape")).groups
    except re.error:
        return
    if groups != 1:
        raise _invalid(
            field, f"Invalid extractor {text!r}: the regex must have exactly one capture group"
        )


def _check_bucket_options(options: Any) -> None:
    field = "metric.bucket_options"
    if not isinstance(options, dict):
        raise _invalid(field, "bucket_options must be an object")
    kinds = [k for k in ("linearBuckets", "exponentialBuckets", "explicitBuckets") if k in options]
    if len(kinds) != 1:
        raise _invalid(field, "bucket_options takes exactly one of linear, exponential, explicit")
    body = options[kinds[0]]
    if not isinstance(body, dict):
        raise _invalid(f"{field}.{kinds[0]}", "must be an object")
    if kinds[0] == "explicitBuckets":
        bounds = body.get("bounds") or []
        if not isinstance(bounds, list) or not bounds:
            raise _invalid(f"{field}.explicit_buckets.bounds", "bounds needs at least one element")
        numbers = [_number(b, f"{field}.explicit_buckets.bounds") for b in bounds]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise _invalid(
                f"{field}.explicit_buckets.bounds", "bounds must be monotonically increasing"
            )
        return
    prefix = f"{field}.{'linear' if kinds[0] == 'linearBuckets' else 'exponential'}_buckets"
    if _integer(body.get("numFiniteBuckets", 0), f"{prefix}.num_finite_buckets") <= 0:
        raise _invalid(f"{prefix}.num_finite_buckets", "num_finite_buckets must be greater than 0")
    if kinds[0] == "linearBuckets":
        if _number(body.get("width", 0), f"{prefix}.width") <= 0:
            raise _invalid(f"{prefix}.width", "width must be greater than 0")
        _number(body.get("offset", 0), f"{prefix}.offset")
        return
    if _number(body.get("growthFactor", 0), f"{prefix}.growth_factor") <= 1:
        raise _invalid(f"{prefix}.growth_factor", "growth_factor must be greater than 1")
    if _number(body.get("scale", 0), f"{prefix}.scale") <= 0:
        raise _invalid(f"{prefix}.scale", "scale must be greater than 0")


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid(field, f"Invalid value at '{field}': expected a number")
    try:
        return float(value)
    except ValueError:
        raise _invalid(field, f"Invalid value at '{field}' ({value!r}): not a number") from None


def _check_metric_labels(descriptor: JSON, extractors: Any) -> None:
    if not isinstance(extractors, dict):
        raise _invalid("metric.label_extractors", "label_extractors must be a map of strings")
    for key, expression in extractors.items():
        _check_extractor(expression, f"metric.label_extractors[{key!r}]")
    labels = descriptor.get("labels") or []
    if not isinstance(labels, list):
        raise _invalid("metric.metric_descriptor.labels", "labels must be a list")
    for i, label in enumerate(labels):
        field = f"metric.metric_descriptor.labels[{i}]"
        if not isinstance(label, dict) or not label.get("key"):
            raise _invalid(field, "a label needs a key")
        if label.get("valueType", "STRING") not in LABEL_VALUE_TYPES:
            raise _invalid(f"{field}.value_type", f"Invalid value_type {label['valueType']!r}")
        if label["key"] not in extractors:
            raise _invalid(
                "metric.label_extractors",
                f"Label {label['key']!r} of the metric descriptor has no extractor expression "
                "in label_extractors",
            )


def _check_metric_update(before: JSON, after: JSON) -> None:
    field = "metric.metric_descriptor"
    for key, name in (("metricKind", "metric_kind"), ("valueType", "value_type")):
        old = before.get(key, DEFAULT_METRIC_DESCRIPTOR[key])
        new = after.get(key, DEFAULT_METRIC_DESCRIPTOR[key])
        if old != new:
            raise _invalid(
                f"{field}.{name}",
                f"The {name} of a logs-based metric cannot be updated ({old} to {new})",
            )
    new_labels = {label.get("key"): label for label in after.get("labels") or []}
    for label in before.get("labels") or []:
        changed = new_labels.get(label.get("key"))
        if changed is not None and changed.get("valueType", "STRING") != label.get(
            "valueType", "STRING"
        ):
            raise _invalid(
                f"{field}.labels",
                f"Label {label.get('key')!r} exists: existing labels cannot be modified except "
                "for their description",
            )


# Cloud Monitoring: google/monitoring/v3/alert.proto AlertPolicy.
MAX_POLICY_DISPLAY_NAME = 512
MAX_POLICY_CONDITIONS = 6
_CHANNEL = re.compile(r"projects/[^/\s]+/notificationChannels/[^/\s]+")
POLICY_SEVERITIES = frozenset({"SEVERITY_UNSPECIFIED", "CRITICAL", "ERROR", "WARNING"})
# AlertPolicy.Condition: "oneof condition".
CONDITION_TYPES = (
    "conditionThreshold",
    "conditionAbsent",
    "conditionMatchedLog",
    "conditionMonitoringQueryLanguage",
    "conditionPrometheusQueryLanguage",
    "conditionSql",
)
MAX_CONDITION_FILTER = 2048
# MetricAbsence.duration: at least 120 s and a multiple of a minute (alert.proto); at most
# 23.5 hours ("Create metric-absence alerting policies": the trigger absence time).
MIN_ABSENCE_S, MAX_ABSENCE_S = 120, 84_600
# Aggregation.alignment_period: at least 60 s; at most 90,000 s (25 h) for alerting policies.
MIN_ALIGNMENT_S, MAX_ALERT_ALIGNMENT_S = 60, 90_000
THRESHOLD_COMPARISONS = frozenset({"COMPARISON_GT", "COMPARISON_LT"})
_METRIC_TYPE = re.compile(r'\bmetric\.type\s*=\s*"([^"]+)"')
_HAS_METRIC_TYPE = re.compile(r"\bmetric\.type\s*=")
_HAS_RESOURCE_TYPE = re.compile(r"\bresource\.type\s*=")
_LOG_METRIC_TYPE = "logging.googleapis.com/user/"


def check_alert_policy(
    policy: Any, *, creating: bool, metric_exists: Callable[[str], bool] | None = None
) -> None:
    """AlertPolicy's documented rules. ``metric_exists(metric_id)`` says whether a log-based
    metric exists; a condition on one that doesn't is refused, as Cloud Monitoring does."""
    if not isinstance(policy, dict):
        raise _invalid("alert_policy", "alert_policy must be an object")
    if creating and "name" in policy:
        raise _invalid(
            "alert_policy.name",
            "When calling the alertPolicies.create method, do not include the name field",
        )
    display_name = _string(policy.get("displayName", ""), "alert_policy.display_name")
    if len(display_name) > MAX_POLICY_DISPLAY_NAME:
        raise _invalid("alert_policy.display_name", "display_name is limited to 512 characters")
    conditions = policy.get("conditions") or []
    if not isinstance(conditions, list) or not 1 <= len(conditions) <= MAX_POLICY_CONDITIONS:
        raise _invalid("alert_policy.conditions", "A policy can have from one to six conditions")
    for i, condition in enumerate(conditions):
        _check_condition(condition, f"alert_policy.conditions[{i}]", creating, metric_exists)
    channels = policy.get("notificationChannels") or []
    if not isinstance(channels, list):
        raise _invalid("alert_policy.notification_channels", "notification_channels is a list")
    for i, channel in enumerate(channels):
        field = f"alert_policy.notification_channels[{i}]"
        if not _CHANNEL.fullmatch(_string(channel, field)):
            raise _invalid(
                field,
                f"Invalid notification channel {channel!r}: the format is "
                "projects/[PROJECT_ID_OR_NUMBER]/notificationChannels/[CHANNEL_ID]",
            )
    if policy.get("severity", "SEVERITY_UNSPECIFIED") not in POLICY_SEVERITIES:
        raise _invalid("alert_policy.severity", f"Invalid severity {policy.get('severity')!r}")
    if "userLabels" in policy:
        check_labels(policy["userLabels"], "alert_policy.user_labels")


def _check_condition(
    condition: Any, field: str, creating: bool, metric_exists: Callable[[str], bool] | None
) -> None:
    if not isinstance(condition, dict):
        raise _invalid(field, "a condition must be an object")
    kinds = [kind for kind in CONDITION_TYPES if kind in condition]
    if len(kinds) != 1:
        raise _invalid(
            field,
            'Condition subtype (e.g. "condition_absent", "condition_threshold", etc.) is '
            "absent or unknown, or more than one is set",
        )
    if creating and "name" in condition:
        raise _invalid(
            f"{field}.name",
            "When calling the alertPolicies.create method, do not include the name field in "
            "the conditions",
        )
    kind = kinds[0]
    if kind in {"conditionThreshold", "conditionAbsent"}:
        _check_metric_condition(kind, condition[kind], field, metric_exists)


def _check_metric_condition(
    kind: str, body: Any, field: str, metric_exists: Callable[[str], bool] | None
) -> None:
    snake = "condition_threshold" if kind == "conditionThreshold" else "condition_absent"
    where = f"{field}.{snake}"
    if not isinstance(body, dict):
        raise _invalid(where, f"{snake} must be an object")
    filter_text = _string(body.get("filter", ""), f"{where}.filter")
    if not filter_text or len(filter_text) > MAX_CONDITION_FILTER:
        raise _invalid(f"{where}.filter", "filter is required and must not exceed 2048 characters")
    if not (_HAS_METRIC_TYPE.search(filter_text) and _HAS_RESOURCE_TYPE.search(filter_text)):
        raise _invalid(
            f"{where}.filter", "The filter must specify the metric type and the resource type"
        )
    _check_aggregations(body.get("aggregations") or [], where)
    seconds = _duration(body.get("duration", "0s"), f"{where}.duration")
    if seconds % 60:
        raise _invalid(f"{where}.duration", "duration must be a multiple of a minute")
    if kind == "conditionAbsent" and not MIN_ABSENCE_S <= seconds <= MAX_ABSENCE_S:
        raise _invalid(
            f"{where}.duration",
            f"The duration of a metric-absence condition is at least {MIN_ABSENCE_S}s and at "
            f"most 23.5 hours ({MAX_ABSENCE_S}s); {seconds:g}s is not allowed",
        )
    comparison = body.get("comparison", "COMPARISON_GT")
    if kind == "conditionThreshold" and comparison not in THRESHOLD_COMPARISONS:
        raise _invalid(
            f"{where}.comparison",
            f"Invalid comparison {comparison!r}: only COMPARISON_LT and COMPARISON_GT are "
            "supported",
        )
    literal = _METRIC_TYPE.search(filter_text)
    metric = literal.group(1) if literal else ""
    if (
        metric_exists is not None
        and metric.startswith(_LOG_METRIC_TYPE)
        and not metric_exists(metric.removeprefix(_LOG_METRIC_TYPE))
    ):
        raise ApiError(
            404,
            f'Cannot find metric(s) that match type = "{metric}". If a metric was created '
            "recently, it could take up to 10 minutes to become available. Please try again "
            "soon.",
        )


def _check_aggregations(aggregations: Any, field: str) -> None:
    if not isinstance(aggregations, list):
        raise _invalid(f"{field}.aggregations", "aggregations must be a list")
    for j, aggregation in enumerate(aggregations):
        where = f"{field}.aggregations[{j}]"
        if not isinstance(aggregation, dict):
            raise _invalid(where, "an aggregation must be an object")
        aligner = aggregation.get("perSeriesAligner", "ALIGN_NONE")
        reducer = aggregation.get("crossSeriesReducer", "REDUCE_NONE")
        if reducer != "REDUCE_NONE" and aligner == "ALIGN_NONE":
            raise _invalid(
                f"{where}.per_series_aligner",
                "If cross_series_reducer is specified, then per_series_aligner must be "
                "specified, and must not be ALIGN_NONE",
            )
        if aligner == "ALIGN_NONE":
            continue
        if "alignmentPeriod" not in aggregation:
            raise _invalid(
                f"{where}.alignment_period",
                "alignment_period is required with a per-series aligner other than ALIGN_NONE",
            )
        period = _duration(aggregation["alignmentPeriod"], f"{where}.alignment_period")
        if not MIN_ALIGNMENT_S <= period <= MAX_ALERT_ALIGNMENT_S:
            raise _invalid(
                f"{where}.alignment_period",
                "alignment_period must be at least 60 seconds, and at most 90,000 seconds "
                "(25 hours) for alerting policies",
            )


# Cloud Monitoring dashboards (v1): Dashboard, MosaicLayout, Tile, Widget, XyChart, DataSet,
# TimeSeriesFilter and AlertChart, as documented in google/monitoring/dashboard/v1/*.proto
# (the gcloud SDK's monitoring_v1_messages.py carries the same comments).
DASHBOARD_LAYOUTS = ("gridLayout", "mosaicLayout", "rowLayout", "columnLayout")
WIDGET_CONTENTS = (
    "xyChart",
    "scorecard",
    "text",
    "blank",
    "alertChart",
    "timeSeriesTable",
    "collapsibleGroup",
    "logsPanel",
    "incidentList",
    "pieChart",
    "errorReportingPanel",
    "sectionHeader",
    "singleViewGroup",
)
MIN_MOSAIC_COLUMNS, MAX_MOSAIC_COLUMNS = 1, 48
_WIDGET_ID = re.compile(r"[A-Za-z0-9_-]+")
_ALERT_POLICY_NAME = re.compile(r"projects/[^/\s]+/alertPolicies/[^/\s]+")
_DASHBOARD_NAME = re.compile(r"projects/(?P<project>[^/\s]+)/dashboards/(?P<id>[^/\s]+)")


def check_dashboard(dashboard: Any, *, project: str, creating: bool) -> None:
    if not isinstance(dashboard, dict):
        raise _invalid("dashboard", "dashboard must be an object")
    if not _string(dashboard.get("displayName", ""), "dashboard.display_name"):
        raise _invalid("dashboard.display_name", "display_name is required")
    if creating and "etag" in dashboard:
        raise _invalid("dashboard.etag", "etag should not be passed during dashboard creation")
    if "name" in dashboard:
        match = _DASHBOARD_NAME.fullmatch(_string(dashboard["name"], "dashboard.name"))
        if match is None or match["project"] not in {project, PROJECT_NUMBER}:
            raise _invalid(
                "dashboard.name",
                f"Invalid dashboard name {dashboard['name']!r}: projects/{project}/dashboards/ID "
                "(the project must match the parent)",
            )
    layouts = [layout for layout in DASHBOARD_LAYOUTS if layout in dashboard]
    if len(layouts) > 1:
        raise _invalid("dashboard.layout", "A dashboard has one layout (oneof layout)")
    if "mosaicLayout" in dashboard:
        _check_mosaic(dashboard["mosaicLayout"])
    for layout in ("gridLayout",):
        for i, widget in enumerate((dashboard.get(layout) or {}).get("widgets") or []):
            _check_widget(widget, f"dashboard.grid_layout.widgets[{i}]")


def _check_mosaic(mosaic: Any) -> None:
    field = "dashboard.mosaic_layout"
    if not isinstance(mosaic, dict):
        raise _invalid(field, "mosaic_layout must be an object")
    columns = None
    if "columns" in mosaic:
        columns = _integer(mosaic["columns"], f"{field}.columns")
        if not MIN_MOSAIC_COLUMNS <= columns <= MAX_MOSAIC_COLUMNS:
            raise _invalid(
                f"{field}.columns", "The number of columns must be between 1 and 48, inclusive"
            )
    for i, tile in enumerate(mosaic.get("tiles") or []):
        where = f"{field}.tiles[{i}]"
        if not isinstance(tile, dict):
            raise _invalid(where, "a tile must be an object")
        width = _integer(tile.get("width", 0), f"{where}.width")
        height = _integer(tile.get("height", 0), f"{where}.height")
        x_pos = _integer(tile.get("xPos", 0), f"{where}.x_pos")
        y_pos = _integer(tile.get("yPos", 0), f"{where}.y_pos")
        if width < 1 or height < 1:
            raise _invalid(where, "Tiles must have a minimum width and height of 1")
        if x_pos < 0 or y_pos < 0:
            raise _invalid(where, "x_pos and y_pos cannot be negative")
        if columns is not None and x_pos + width > columns:
            raise _invalid(
                where, f"Tiles must be contained within the {columns} columns of the grid"
            )
        if "widget" in tile:
            _check_widget(tile["widget"], f"{where}.widget")


def _check_widget(widget: Any, field: str) -> None:
    if not isinstance(widget, dict):
        raise _invalid(field, "a widget must be an object")
    contents = [content for content in WIDGET_CONTENTS if content in widget]
    if len(contents) > 1:
        raise _invalid(field, "A widget has one content (oneof content): " + ", ".join(contents))
    if "id" in widget and not _WIDGET_ID.fullmatch(_string(widget["id"], f"{field}.id")):
        raise _invalid(f"{field}.id", "Widget ids may be made up of alphanumerics, - and _")
    if "xyChart" in widget:
        data_sets = (widget["xyChart"] or {}).get("dataSets") or []
        if not data_sets:
            raise _invalid(f"{field}.xy_chart.data_sets", "data_sets is required")
        for j, data_set in enumerate(data_sets):
            where = f"{field}.xy_chart.data_sets[{j}]"
            query = data_set.get("timeSeriesQuery") if isinstance(data_set, dict) else None
            if not isinstance(query, dict) or not query:
                raise _invalid(f"{where}.time_series_query", "time_series_query is required")
            if "timeSeriesFilter" in query:
                time_filter = query["timeSeriesFilter"] or {}
                if not _string(time_filter.get("filter", ""), f"{where}.filter"):
                    raise _invalid(
                        f"{where}.time_series_query.time_series_filter.filter",
                        "filter is required",
                    )
    if "alertChart" in widget:
        name = _string((widget["alertChart"] or {}).get("name", ""), f"{field}.alert_chart.name")
        if not _ALERT_POLICY_NAME.fullmatch(name):
            raise _invalid(
                f"{field}.alert_chart.name",
                f"Invalid alert policy name {name!r}: the format is "
                "projects/[PROJECT_ID_OR_NUMBER]/alertPolicies/[ALERT_POLICY_ID]",
            )


Handler = Callable[["_Call"], Any]


def _regional_name_on_the_global_endpoint(c: _Call) -> JSON:
    """The global endpoint refuses a regional secret's name (seen in public reports:
    googleapis/google-cloud-python#13389, quarkiverse/quarkus-google-cloud-services#919)."""
    name = f"projects/{c.params['project']}/locations/{c.params['location']}/secrets"
    rest = c.params.get("rest")
    if rest:
        name += "/" + rest.split(":", 1)[0]
    raise _invalid(
        "name",
        f"The provided Secret ID [{name}] does not match the expected format "
        "[projects/*/secrets/*]",
    )


def _global_name_on_a_regional_endpoint(c: _Call) -> JSON:
    """A regional endpoint serves only its own location's secrets ("Secret Manager
    locations")."""
    where = regional_host(c.endpoint or "")
    raise _invalid(
        "name",
        f"{where} serves regional secrets of location {c.endpoint} only, not global ones: use "
        "secretmanager.googleapis.com",
    )


@dataclass
class _Call:
    """What a route handler sees: path parameters, query and JSON body."""

    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    base_url: str
    # The location of the regional endpoint the call came through; None: the global one.
    endpoint: str | None = None

    def q(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]


class FakeGoogleApis:
    """In-memory Google Cloud control plane for one or more projects, recording every request."""

    def __init__(
        self, record_path: Path | None = None, served_locations: frozenset[str] | None = None
    ) -> None:
        self.record_path = record_path
        # The locations Secret Manager serves: the Locations API knows these, and only these
        # have a regional endpoint (the host of any other never resolves).
        self.served_locations: set[str] = set(
            DEFAULT_SERVED_LOCATIONS if served_locations is None else served_locations
        )
        self._certificates: _TunnelCertificates | None = None
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.enabled_services: dict[str, set[str]] = {}
        self.service_accounts: dict[str, JSON] = {}
        self.roles: dict[str, JSON] = {}
        self.secrets: dict[str, JSON] = {}
        self.secret_versions: dict[str, list[JSON]] = {}
        self.secret_policies: dict[str, _IamPolicy] = {}
        self.functions: dict[str, JSON] = {}
        self.run_policies: dict[str, _IamPolicy] = {}
        self.jobs: dict[str, JSON] = {}
        self.operations: dict[str, JSON] = {}
        self.uploads: dict[str, list[str]] = {}
        self.topics: dict[str, JSON] = {}
        self.topic_policies: dict[str, _IamPolicy] = {}
        self.project_policies: dict[str, _IamPolicy] = {}
        self.log_metrics: dict[str, JSON] = {}
        self.alert_policies: dict[str, JSON] = {}
        self.dashboards: dict[str, JSON] = {}
        # Cloud Monitoring learns of a new log-based metric late ("up to 10 minutes"): this many
        # alert policy writes on each new metric are refused (404) before it is known.
        self.metric_unknown_writes = 0
        self._metric_unknown_left: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []
        self._add_routes()

    # ----------------------------------------------------------------------------- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on a background thread; returns the base URL (``http://host:port``)."""
        fake = self

        class _Handler(_RequestHandler):
            api = fake

        self._certificates = self._certificates or _TunnelCertificates()
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def ca_file(self) -> Path:
        """The certificate authority to trust for the regional endpoints the fake answers."""
        if self._certificates is None:
            raise RuntimeError("the fake is not started")
        return self._certificates.ca_file

    def tunnel_context(self, host: str) -> ssl.SSLContext | None:
        """The TLS context to answer a CONNECT to ``host`` with, or None: a host that would not
        resolve (not a regional endpoint of a location Secret Manager serves)."""
        match = _REGIONAL_HOST.fullmatch(host)
        if match is None or match["location"] not in self.served_locations:
            return None
        if self._certificates is None:
            raise RuntimeError("the fake is not started")
        return self._certificates.context(host)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._certificates is not None:
            self._certificates.close()
            self._certificates = None

    def __enter__(self) -> FakeGoogleApis:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------------------- seeding

    def add_secret(
        self,
        project: str,
        secret_id: str,
        payloads: tuple[bytes, ...] = (),
        labels: dict[str, str] | None = None,
        location: str | None = None,
    ) -> None:
        """Create a secret (and versions) directly, as if it had been there before a test: a
        regional one in ``location`` (no replication), a global one (automatic) without."""
        with self._lock:
            body: JSON = {} if location else {"replication": {"automatic": {}}}
            if labels:
                body["labels"] = dict(labels)
            self._create_secret(project, secret_id, body, location)
            for data in payloads:
                self._add_version(project, secret_id, base64.b64encode(data).decode(), location)

    def snapshot(self) -> JSON:
        """The fake's state without timestamps, to compare before and after a run."""
        with self._lock:
            state = {
                "enabled_services": {p: sorted(s) for p, s in self.enabled_services.items()},
                "service_accounts": self.service_accounts,
                "roles": self.roles,
                "secrets": self.secrets,
                "secret_versions": self.secret_versions,
                "secret_policies": {k: v.as_json() for k, v in self.secret_policies.items()},
                "functions": self.functions,
                "run_policies": {k: v.as_json() for k, v in self.run_policies.items()},
                "jobs": self.jobs,
                "topics": self.topics,
                "topic_policies": {k: v.as_json() for k, v in self.topic_policies.items()},
                "project_policies": {k: v.as_json() for k, v in self.project_policies.items()},
                "log_metrics": self.log_metrics,
                "alert_policies": self.alert_policies,
                "dashboards": self.dashboards,
            }
            snapshot: JSON = _without_times(copy.deepcopy(state))
            return snapshot

    def mark(self) -> int:
        """A position in the request log, for :meth:`since`."""
        with self._lock:
            return len(self.requests)

    def since(self, mark: int) -> list[RecordedRequest]:
        with self._lock:
            return list(self.requests[mark:])

    # ----------------------------------------------------------------------------- recording

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            if self.record_path is not None:
                with self.record_path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(request.as_json(), sort_keys=True) + "\n")

    def dispatch(self, method: str, api: str, path: str, call: _Call) -> tuple[int, Any]:
        for route_method, route_api, pattern, handler in self._routes:
            if route_method != method or route_api != api:
                continue
            match = pattern.fullmatch(path)
            if match is None:
                continue
            call.params = match.groupdict()
            try:
                with self._lock:
                    return 200, handler(call)
            except ApiError as error:
                return error.code, error.as_json()
        message = f"the fake has no route for {method} {api} {path}"
        return 501, ApiError(501, message, "UNIMPLEMENTED").as_json()

    def _route(self, method: str, api: str, pattern: str) -> Callable[[Handler], Handler]:
        # {name} matches one path segment; {name*} matches the rest of the path.
        regex = re.sub(r"\{(\w+)\*\}", r"(?P<\1>.+)", pattern)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/:]+)", regex)

        def register(handler: Handler) -> Handler:
            self._routes.append((method, api, re.compile(regex), handler))
            return handler

        return register

    # ----------------------------------------------------------------------------- the APIs

    def _add_routes(self) -> None:  # noqa: PLR0915 - one flat table of routes reads best
        route = self._route
        loc = "/projects/{project}/locations/{location}"

        # --- OAuth token endpoint, for an activated service-account key whose token_uri is here.
        @route("POST", "oauth2", "/token")
        def token(_c: _Call) -> JSON:
            return {"access_token": "fake-access-token", "expires_in": 3600, "token_type": "Bearer"}

        # --- Cloud Resource Manager
        @route("GET", "cloudresourcemanager", "/v1/projects/{project}")
        def get_project_v1(c: _Call) -> JSON:
            p = c.params["project"]
            return {"projectId": p, "projectNumber": PROJECT_NUMBER, "lifecycleState": "ACTIVE"}

        @route("GET", "cloudresourcemanager", "/v3/projects/{project}")
        def get_project_v3(c: _Call) -> JSON:
            p = c.params["project"]
            return {"name": f"projects/{PROJECT_NUMBER}", "projectId": p, "state": "ACTIVE"}

        @route("POST", "cloudresourcemanager", "/v1/projects/{project}:getIamPolicy")
        def get_project_policy(c: _Call) -> JSON:
            return self.project_policies.setdefault(c.params["project"], _IamPolicy()).as_json()

        @route("POST", "cloudresourcemanager", "/v1/projects/{project}:setIamPolicy")
        def set_project_policy(c: _Call) -> JSON:
            check_policy(c.body.get("policy", {}))
            policy = self.project_policies.setdefault(c.params["project"], _IamPolicy())
            return policy.replace(c.body.get("policy", {}))

        # --- Service Usage
        @route("GET", "serviceusage", "/v1/projects/{project}/services")
        def list_services(c: _Call) -> JSON:
            enabled = sorted(self.enabled_services.get(c.params["project"], set()))
            services = [self._service(c.params["project"], s, "ENABLED") for s in enabled]
            return {"services": services} if services else {}

        @route("GET", "serviceusage", "/v1/projects/{project}/services/{service}")
        def get_service(c: _Call) -> JSON:
            p, s = c.params["project"], c.params["service"]
            state = "ENABLED" if s in self.enabled_services.get(p, set()) else "DISABLED"
            return self._service(p, s, state)

        @route("POST", "serviceusage", "/v1/projects/{project}/services:batchEnable")
        def batch_enable(c: _Call) -> JSON:
            p = c.params["project"]
            check_batch_enable(c.body.get("serviceIds", []))
            ids = list(c.body.get("serviceIds", []))
            self.enabled_services.setdefault(p, set()).update(ids)
            services = [self._service(p, s, "ENABLED") for s in ids]
            return self._done_operation(
                f"operations/acf.{next(self._ids)}",
                {"@type": BATCH_ENABLE_TYPE, "services": services},
            )

        @route(
            "POST",
            "serviceusage",
            "/v1beta1/projects/{project}/services/{service}:generateServiceIdentity",
        )
        def generate_service_identity(c: _Call) -> JSON:
            agent = c.params["service"].removesuffix(".googleapis.com")
            email = f"service-{PROJECT_NUMBER}@gcp-sa-{agent}.iam.gserviceaccount.com"
            return self._done_operation(
                f"operations/finished.DONE_OPERATION.{next(self._ids)}",
                {
                    "@type": SERVICE_IDENTITY_TYPE,
                    "email": email,
                    "uniqueId": str(200000000000000000000 + next(self._ids)),
                },
            )

        @route("GET", "serviceusage", "/v1/{name*}")
        def get_usage_operation(c: _Call) -> JSON:
            return self._get_operation(c.params["name"])

        # --- IAM: service accounts
        @route("GET", "iam", "/v1/projects/{project}/serviceAccounts/{email}")
        def get_account(c: _Call) -> JSON:
            return self._account(c.params["email"])

        @route("POST", "iam", "/v1/projects/{project}/serviceAccounts")
        def create_account(c: _Call) -> JSON:
            p = c.params["project"]
            check_account_id(c.body.get("accountId"))
            check_service_account(c.body.get("serviceAccount", {}))
            account_id = c.body["accountId"]
            email = f"{account_id}@{p}.iam.gserviceaccount.com"
            if email in self.service_accounts:
                raise ApiError(409, f"Service account {account_id} already exists within project")
            details = c.body.get("serviceAccount", {})
            account = {
                "name": f"projects/{p}/serviceAccounts/{email}",
                "projectId": p,
                "uniqueId": str(100000000000000000000 + next(self._ids)),
                "email": email,
                "displayName": details.get("displayName", ""),
                "description": details.get("description", ""),
                "oauth2ClientId": str(next(self._ids)),
            }
            self.service_accounts[email] = account
            return account

        @route("DELETE", "iam", "/v1/projects/{project}/serviceAccounts/{email}")
        def delete_account(c: _Call) -> JSON:
            self._account(c.params["email"])
            del self.service_accounts[c.params["email"]]
            return {}

        # --- IAM: custom roles
        @route("GET", "iam", "/v1/projects/{project}/roles/{role}")
        def get_role(c: _Call) -> JSON:
            return self._role(c.params["project"], c.params["role"])

        @route("POST", "iam", "/v1/projects/{project}/roles")
        def create_role(c: _Call) -> JSON:
            check_role_id(c.body.get("roleId"))
            check_role(c.body.get("role", {}))
            name = f"projects/{c.params['project']}/roles/{c.body['roleId']}"
            if name in self.roles:
                raise ApiError(409, f"A role named {c.body['roleId']} in {name} already exists.")
            role = {**c.body.get("role", {}), "name": name}
            role.setdefault("stage", "ALPHA")
            return self._store_role(role)

        @route("PATCH", "iam", "/v1/projects/{project}/roles/{role}")
        def update_role(c: _Call) -> JSON:
            role = self._role(c.params["project"], c.params["role"])
            if c.body.get("etag") and _b64decode(c.body["etag"]) != _b64decode(role["etag"]):
                raise ApiError(409, "etag mismatch", "ABORTED")
            mask = c.q("updateMask") or ",".join(k for k in c.body if k not in {"name", "etag"})
            updated = copy.deepcopy(role)
            _apply_mask(updated, c.body, mask)
            check_role(updated)
            return self._store_role(updated)

        @route("DELETE", "iam", "/v1/projects/{project}/roles/{role}")
        def delete_role(c: _Call) -> JSON:
            role = self._role(c.params["project"], c.params["role"])
            role["deleted"] = True
            return self._store_role(role)

        @route("POST", "iam", "/v1/projects/{project}/roles/{role}:undelete")
        def undelete_role(c: _Call) -> JSON:
            role = self._role(c.params["project"], c.params["role"])
            role.pop("deleted", None)
            return self._store_role(role)

        # --- Secret Manager: the Locations API, on the global endpoint
        @route("GET", "secretmanager", "/v1/projects/{project}/locations/{location}")
        def get_location(c: _Call) -> JSON:
            return self._location(c.params["location"])

        @route("GET", "secretmanager", "/v1/projects/{project}/locations")
        def list_locations(_c: _Call) -> JSON:
            found = [self._location(location) for location in sorted(self.served_locations)]
            return {"locations": found} if found else {}

        # --- Secret Manager: the global endpoint serves global secrets only, and a regional
        # endpoint its own location's secrets only.
        for method in ("GET", "POST", "PATCH", "DELETE"):
            for tail in ("/secrets", "/secrets/{rest*}"):
                route(
                    method, "secretmanager", "/v1/projects/{project}/locations/{location}" + tail
                )(_regional_name_on_the_global_endpoint)
                route(method, REGIONAL_API, "/v1/projects/{project}" + tail)(
                    _global_name_on_a_regional_endpoint
                )
        self._add_secret_routes("secretmanager", "/v1/projects/{project}")
        self._add_secret_routes(REGIONAL_API, "/v1/projects/{project}/locations/{location}")

        # --- Pub/Sub
        @route("GET", "pubsub", "/v1/projects/{project}/topics/{topic}")
        def get_topic(c: _Call) -> JSON:
            return self._topic(c.params["project"], c.params["topic"])

        @route("PUT", "pubsub", "/v1/projects/{project}/topics/{topic}")
        def create_topic(c: _Call) -> JSON:
            name = f"projects/{c.params['project']}/topics/{c.params['topic']}"
            check_topic_name(name)
            if name in self.topics:
                raise ApiError(409, "Resource already exists in the project (resource=topic).")
            if "labels" in (c.body or {}):
                check_labels(c.body["labels"])
            self.topics[name] = {**copy.deepcopy(c.body or {}), "name": name}
            self.topic_policies[name] = _IamPolicy()
            return self.topics[name]

        @route("DELETE", "pubsub", "/v1/projects/{project}/topics/{topic}")
        def delete_topic(c: _Call) -> JSON:
            name = self._topic(c.params["project"], c.params["topic"])["name"]
            del self.topics[name]
            del self.topic_policies[name]
            return {}

        @route("GET", "pubsub", "/v1/projects/{project}/topics/{topic}:getIamPolicy")
        def get_topic_policy(c: _Call) -> JSON:
            name = self._topic(c.params["project"], c.params["topic"])["name"]
            return self.topic_policies[name].as_json()

        @route("POST", "pubsub", "/v1/projects/{project}/topics/{topic}:setIamPolicy")
        def set_topic_policy(c: _Call) -> JSON:
            name = self._topic(c.params["project"], c.params["topic"])["name"]
            check_policy(c.body.get("policy", {}))
            return self.topic_policies[name].replace(c.body.get("policy", {}))

        # --- Cloud Logging: log-based metrics
        @route("GET", "logging", "/v2/projects/{project}/metrics/{metric}")
        def get_metric(c: _Call) -> JSON:
            return self._metric(c.params["project"], c.params["metric"])

        @route("POST", "logging", "/v2/projects/{project}/metrics")
        def create_metric(c: _Call) -> JSON:
            check_log_metric(c.body)
            key = f"projects/{c.params['project']}/metrics/{c.body['name']}"
            if key in self.log_metrics:
                raise ApiError(409, f"Metric {c.body['name']} already exists")
            metric = {**copy.deepcopy(c.body), "createTime": _now()}
            metric["metricDescriptor"] = self._metric_descriptor(
                c.params["project"], c.body["name"], c.body.get("metricDescriptor")
            )
            self.log_metrics[key] = metric
            self._metric_unknown_left[key] = self.metric_unknown_writes
            return metric

        @route("PUT", "logging", "/v2/projects/{project}/metrics/{metric}")
        def update_metric(c: _Call) -> JSON:
            current = self._metric(c.params["project"], c.params["metric"])
            metric = {**copy.deepcopy(c.body), "name": c.params["metric"]}
            check_log_metric(metric, current=current)
            metric["createTime"] = current.get("createTime", _now())
            metric["metricDescriptor"] = self._metric_descriptor(
                c.params["project"], c.params["metric"], metric.get("metricDescriptor")
            )
            key = f"projects/{c.params['project']}/metrics/{c.params['metric']}"
            self.log_metrics[key] = metric
            return metric

        @route("DELETE", "logging", "/v2/projects/{project}/metrics/{metric}")
        def delete_metric(c: _Call) -> JSON:
            self._metric(c.params["project"], c.params["metric"])
            key = f"projects/{c.params['project']}/metrics/{c.params['metric']}"
            del self.log_metrics[key]
            self._metric_unknown_left.pop(key, None)
            return {}

        # --- Cloud Monitoring: alert policies
        @route("GET", "monitoring", "/v3/projects/{project}/alertPolicies")
        def list_alert_policies(c: _Call) -> JSON:
            prefix = f"projects/{c.params['project']}/alertPolicies/"
            found = [p for k, p in sorted(self.alert_policies.items()) if k.startswith(prefix)]
            return {"alertPolicies": found, "totalSize": len(found)} if found else {}

        @route("GET", "monitoring", "/v3/projects/{project}/alertPolicies/{policy}")
        def get_alert_policy(c: _Call) -> JSON:
            return self._alert_policy(c.params["project"], c.params["policy"])

        @route("POST", "monitoring", "/v3/projects/{project}/alertPolicies")
        def create_alert_policy(c: _Call) -> JSON:
            project = c.params["project"]
            check_alert_policy(
                c.body, creating=True, metric_exists=functools.partial(self._metric_seen, project)
            )
            name = f"projects/{project}/alertPolicies/{next(self._ids)}"
            policy = {**copy.deepcopy(c.body), "name": name}
            policy.setdefault("enabled", True)
            self._name_conditions(policy)
            self.alert_policies[name] = policy
            return policy

        @route("PATCH", "monitoring", "/v3/projects/{project}/alertPolicies/{policy}")
        def update_alert_policy(c: _Call) -> JSON:
            project = c.params["project"]
            policy = copy.deepcopy(self._alert_policy(project, c.params["policy"]))
            mask = c.q("updateMask")
            if mask:
                _apply_mask(policy, c.body, mask)
            else:  # no mask: the policy is replaced by the one sent
                policy = {**copy.deepcopy(c.body), "name": policy["name"]}
            check_alert_policy(
                policy, creating=False, metric_exists=functools.partial(self._metric_seen, project)
            )
            self._name_conditions(policy)
            self.alert_policies[policy["name"]] = policy
            return policy

        @route("DELETE", "monitoring", "/v3/projects/{project}/alertPolicies/{policy}")
        def delete_alert_policy(c: _Call) -> JSON:
            name = self._alert_policy(c.params["project"], c.params["policy"])["name"]
            del self.alert_policies[name]
            return {}

        # --- Cloud Monitoring: dashboards (v1)
        @route("GET", "monitoring", "/v1/projects/{project}/dashboards")
        def list_dashboards(c: _Call) -> JSON:
            prefix = f"projects/{c.params['project']}/dashboards/"
            found = [d for k, d in sorted(self.dashboards.items()) if k.startswith(prefix)]
            return {"dashboards": found} if found else {}

        @route("GET", "monitoring", "/v1/projects/{project}/dashboards/{dashboard}")
        def get_dashboard(c: _Call) -> JSON:
            return self._dashboard(c.params["project"], c.params["dashboard"])

        @route("POST", "monitoring", "/v1/projects/{project}/dashboards")
        def create_dashboard(c: _Call) -> JSON:
            project = c.params["project"]
            check_dashboard(c.body, project=project, creating=True)
            dashboard: JSON = copy.deepcopy(c.body)
            dashboard_id = (
                dashboard["name"].rsplit("/", 1)[-1]
                if "name" in dashboard
                else str(next(self._ids))
            )
            name = f"projects/{project}/dashboards/{dashboard_id}"
            if name in self.dashboards:
                raise ApiError(409, f"Dashboard {name} already exists")
            dashboard.update(name=name, etag=self._etag())
            if c.q("validateOnly") != "true":
                self.dashboards[name] = dashboard
            return dashboard

        @route("PATCH", "monitoring", "/v1/projects/{project}/dashboards/{dashboard}")
        def update_dashboard(c: _Call) -> JSON:
            project = c.params["project"]
            current = self._dashboard(project, c.params["dashboard"])
            check_dashboard(c.body, project=project, creating=False)
            sent = c.body.get("etag")
            if sent and sent != current["etag"]:
                raise ApiError(409, "etag mismatch: the dashboard changed concurrently", "ABORTED")
            dashboard = {**copy.deepcopy(c.body), "name": current["name"], "etag": self._etag()}
            if c.q("validateOnly") != "true":
                self.dashboards[current["name"]] = dashboard
            return dashboard

        @route("DELETE", "monitoring", "/v1/projects/{project}/dashboards/{dashboard}")
        def delete_dashboard(c: _Call) -> JSON:
            name = self._dashboard(c.params["project"], c.params["dashboard"])["name"]
            del self.dashboards[name]
            return {}

        # --- Cloud Build
        @route("GET", "cloudbuild", "/v1" + loc + "/defaultServiceAccount")
        def default_build_account(c: _Call) -> JSON:
            p = c.params["project"]
            email = f"{PROJECT_NUMBER}-compute@developer.gserviceaccount.com"
            return {
                "name": f"projects/{p}/locations/{c.params['location']}/defaultServiceAccount",
                "serviceAccountEmail": f"projects/{p}/serviceAccounts/{email}",
            }

        # --- Cloud Functions v2
        @route("GET", "cloudfunctions", "/v2" + loc + "/runtimes")
        def list_runtimes(_c: _Call) -> JSON:
            return {
                "runtimes": [
                    {"name": r, "displayName": r, "stage": "GA", "environment": "GEN_2"}
                    for r in ("python311", "python312", "python313")
                ]
            }

        @route("POST", "cloudfunctions", "/v2" + loc + "/functions:generateUploadUrl")
        def generate_upload_url(c: _Call) -> JSON:
            upload_id = f"upload-{next(self._ids)}"
            self.uploads[upload_id] = []
            return {
                "uploadUrl": f"{c.base_url}/upload/{upload_id}",
                "storageSource": {"bucket": "gcf-v2-uploads-fake", "object": f"{upload_id}.zip"},
            }

        @route("GET", "cloudfunctions", "/v2" + loc + "/functions/{function}")
        def get_function(c: _Call) -> JSON:
            return self._function(self._function_name(c.params))

        @route("POST", "cloudfunctions", "/v2" + loc + "/functions")
        def create_function(c: _Call) -> JSON:
            check_function_id(c.q("functionId"))
            name = self._function_name({**c.params, "function": c.q("functionId")})
            if name in self.functions:
                raise ApiError(409, f"Function {name} already exists")
            function = copy.deepcopy(c.body)
            check_function(function, creating=True)
            function["name"] = name
            self.functions[name] = self._settle_function(function, c.params)
            return self._function_operation(c.params, name, "create")

        @route("PATCH", "cloudfunctions", "/v2" + loc + "/functions/{function}")
        def update_function(c: _Call) -> JSON:
            name = self._function_name(c.params)
            function = copy.deepcopy(self._function(name))
            mask = c.q("updateMask") or ",".join(c.body)
            _apply_mask(function, c.body, mask)
            check_function(function, creating=False)
            self.functions[name] = self._settle_function(function, c.params)
            return self._function_operation(c.params, name, "update")

        @route("DELETE", "cloudfunctions", "/v2" + loc + "/functions/{function}")
        def delete_function(c: _Call) -> JSON:
            name = self._function_name(c.params)
            function = self._function(name)
            service = function["serviceConfig"]["service"]
            self.run_policies.pop(service.rsplit("/", 1)[-1], None)
            del self.functions[name]
            return self._function_operation(c.params, name, "delete")

        @route("GET", "cloudfunctions", "/v2" + loc + "/operations/{operation}")
        def get_function_operation(c: _Call) -> JSON:
            return self._get_operation(
                f"projects/{c.params['project']}/locations/{c.params['location']}"
                f"/operations/{c.params['operation']}"
            )

        # --- Cloud Run, Knative-style v1 (what gcloud uses for a service's IAM policy)
        for prefix in ("/v1" + loc, "/v2" + loc):

            @route("GET", "run", prefix + "/services/{service}:getIamPolicy")
            @route("POST", "run", prefix + "/services/{service}:getIamPolicy")
            def get_run_policy(c: _Call) -> JSON:
                return self._run_policy(c.params["service"]).as_json()

            @route("POST", "run", prefix + "/services/{service}:setIamPolicy")
            def set_run_policy(c: _Call) -> JSON:
                policy = self._run_policy(c.params["service"])
                check_policy(c.body.get("policy", {}))
                return policy.replace(c.body.get("policy", {}))

        @route("GET", "run", "/apis/serving.knative.dev/v1/namespaces/{project}/services/{service}")
        def get_knative_service(c: _Call) -> JSON:
            function = self._function_for_service(c.params["service"])
            return {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": {"name": c.params["service"], "namespace": PROJECT_NUMBER},
                "status": {"url": function["serviceConfig"]["uri"]},
            }

        # --- Cloud Scheduler
        @route("GET", "cloudscheduler", "/v1" + loc + "/jobs/{job}")
        def get_job(c: _Call) -> JSON:
            return self._job(self._job_name(c.params))

        @route("POST", "cloudscheduler", "/v1" + loc + "/jobs")
        def create_job(c: _Call) -> JSON:
            job: JSON = copy.deepcopy(c.body)
            check_job(job, project=c.params["project"], creating=True)
            name = job.get("name", "")
            if name in self.jobs:
                raise ApiError(409, f"Job {name} already exists")
            job.setdefault("httpTarget", {}).setdefault("headers", {})
            job["httpTarget"]["headers"]["User-Agent"] = "Google-Cloud-Scheduler"
            job.update(state="ENABLED", userUpdateTime=_now())
            self.jobs[name] = job
            return job

        @route("PATCH", "cloudscheduler", "/v1" + loc + "/jobs/{job}")
        def update_job(c: _Call) -> JSON:
            name = self._job_name(c.params)
            job = copy.deepcopy(self._job(name))
            _apply_mask(job, c.body, c.q("updateMask") or ",".join(c.body))
            check_job(job, project=c.params["project"], creating=False)
            job["userUpdateTime"] = _now()
            self.jobs[name] = job
            return job

        @route("DELETE", "cloudscheduler", "/v1" + loc + "/jobs/{job}")
        def delete_job(c: _Call) -> JSON:
            del self.jobs[self._job(self._job_name(c.params))["name"]]
            return {}

        @route("POST", "cloudscheduler", "/v1" + loc + "/jobs/{job}:run")
        def run_job(c: _Call) -> JSON:
            return self._job(self._job_name(c.params))

    def _add_secret_routes(self, api: str, base: str) -> None:  # noqa: PLR0915 - a route table
        """Secret Manager's secret routes on one kind of endpoint: ``api`` "secretmanager" (the
        global endpoint, global secrets under ``projects/P``) or REGIONAL_API (a regional
        endpoint, its location's secrets under ``projects/P/locations/L``)."""
        route = self._route
        regional = api == REGIONAL_API

        def place(c: _Call) -> tuple[str, str | None]:
            """The project and location (None: global) of the secret a call names. A regional
            endpoint serves only its own location ("Secret Manager locations")."""
            if not regional:
                return c.params["project"], None
            location = c.params["location"]
            if location != c.endpoint:
                raise _invalid(
                    "name",
                    f"Location {location!r} is not served by this regional endpoint "
                    f"({regional_host(c.endpoint or '')}): use {regional_host(location)}",
                )
            return c.params["project"], location

        @route("GET", api, base + "/secrets/{secret}")
        def get_secret(c: _Call) -> JSON:
            project, location = place(c)
            return self._secret(project, c.params["secret"], location)

        @route("POST", api, base + "/secrets")
        def create_secret(c: _Call) -> JSON:
            project, location = place(c)
            check_secret_id(c.q("secretId"))
            body = c.body or {}
            if "labels" in body:
                check_labels(body["labels"])
            if location is not None and "replication" in body:
                raise _invalid(
                    "secret.replication",
                    "A regional secret has no replication: its data stays in its location",
                )
            if "topics" in body or "rotation" in body:
                check_secret_notifications(body, new_next_rotation=True)
            return self._create_secret(project, c.q("secretId"), body, location)

        @route("GET", api, base + "/secrets/{secret}/versions")
        def list_versions(c: _Call) -> JSON:
            project, location = place(c)
            self._secret(project, c.params["secret"], location)
            key = self._secret_key(project, c.params["secret"], location)
            versions = list(reversed(self.secret_versions.get(key, [])))
            return {"versions": versions, "totalSize": len(versions)} if versions else {}

        @route("POST", api, base + "/secrets/{secret}:addVersion")
        def add_version(c: _Call) -> JSON:
            project, location = place(c)
            payload = c.body.get("payload", {})
            check_payload(payload)
            version = self._add_version(
                project, c.params["secret"], payload.get("data", ""), location
            )
            if "dataCrc32c" in payload:  # gcloud checks this echo to detect corruption in transit
                version["clientSpecifiedPayloadChecksum"] = True
            return version

        @route("GET", api, base + "/secrets/{secret}:getIamPolicy")
        @route("POST", api, base + "/secrets/{secret}:getIamPolicy")
        def get_secret_policy(c: _Call) -> JSON:
            project, location = place(c)
            return self._secret_policy(project, c.params["secret"], location).as_json()

        @route("POST", api, base + "/secrets/{secret}:setIamPolicy")
        def set_secret_policy(c: _Call) -> JSON:
            project, location = place(c)
            policy = self._secret_policy(project, c.params["secret"], location)
            check_policy(c.body.get("policy", {}))
            return policy.replace(c.body.get("policy", {}))

        @route("GET", api, base + "/secrets")
        def list_secrets(c: _Call) -> JSON:
            project, location = place(c)
            prefix = self._secret_key(project, "", location)
            found = [
                secret
                for key, secret in sorted(self.secrets.items())
                if key.startswith(prefix)
                and "/" not in key.removeprefix(prefix)
                and secret_matches_filter(secret, c.q("filter"))
            ]
            return {"secrets": found, "totalSize": len(found)} if found else {}

        @route("PATCH", api, base + "/secrets/{secret}")
        def update_secret(c: _Call) -> JSON:
            project, location = place(c)
            secret = copy.deepcopy(self._secret(project, c.params["secret"], location))
            mask = c.q("updateMask") or ",".join(c.body)
            _apply_mask(secret, c.body, mask)
            if secret.get("rotation") == {}:
                del secret["rotation"]
            if secret.get("topics") == []:
                del secret["topics"]
            if "labels" in secret:
                check_labels(secret["labels"])
            if location is not None and "replication" in secret:
                raise _invalid("secret.replication", "A regional secret has no replication")
            fields = {part.strip() for part in mask.split(",")}
            check_secret_notifications(
                secret, new_next_rotation="rotation.next_rotation_time" in fields
            )
            secret["etag"] = f'"{next(self._ids)}"'
            self.secrets[secret["name"]] = secret
            return secret

    # ----------------------------------------------------------------------------- helpers

    @staticmethod
    def _service(project: str, service: str, state: str) -> JSON:
        return {
            "name": f"projects/{PROJECT_NUMBER}/services/{service}",
            "parent": f"projects/{PROJECT_NUMBER}",
            "config": {"name": service, "title": service},
            "state": state,
        }

    def _done_operation(self, name: str, response: JSON) -> JSON:
        operation = {"name": name, "done": True, "response": response}
        self.operations[name] = operation
        return operation

    def _get_operation(self, name: str) -> JSON:
        if name not in self.operations:
            raise _not_found(f"Operation {name}")
        return self.operations[name]

    def _account(self, email: str) -> JSON:
        if email not in self.service_accounts:
            raise _not_found(f"Service account {email}")
        return self.service_accounts[email]

    def _role(self, project: str, role_id: str) -> JSON:
        name = f"projects/{project}/roles/{role_id}"
        if name not in self.roles:
            raise _not_found(f"Role {name}")
        return self.roles[name]

    def _store_role(self, role: JSON) -> JSON:
        role["etag"] = base64.b64encode(f"role-{next(self._ids)}".encode()).decode()
        self.roles[role["name"]] = role
        return role

    @staticmethod
    def _secret_key(project: str, secret_id: str, location: str | None = None) -> str:
        """The secret's name as Secret Manager returns it: with the project number, and the
        location for a regional secret (a regional and a global secret with the same id are two
        secrets)."""
        where = f"/locations/{location}" if location else ""
        return f"projects/{PROJECT_NUMBER}{where}/secrets/{secret_id}"

    def _secret(self, project: str, secret_id: str, location: str | None = None) -> JSON:
        key = self._secret_key(project, secret_id, location)
        if key not in self.secrets:
            raise _not_found(f"Secret [{key}]")
        return self.secrets[key]

    def _location(self, location: str) -> JSON:
        """GetLocation: the Location of a served location; NOT_FOUND for any other."""
        if location not in self.served_locations:
            raise _not_found(f"Location [projects/{PROJECT_NUMBER}/locations/{location}]")
        return {
            "name": f"projects/{PROJECT_NUMBER}/locations/{location}",
            "locationId": location,
            "displayName": location,
        }

    def _create_secret(
        self, project: str, secret_id: str, body: JSON, location: str | None = None
    ) -> JSON:
        key = self._secret_key(project, secret_id, location)
        if key in self.secrets:
            raise ApiError(409, f"Secret [{key}] already exists.")
        secret = {**copy.deepcopy(body), "name": key, "createTime": _now(), "etag": '"1"'}
        self.secrets[key] = secret
        self.secret_versions[key] = []
        self.secret_policies[key] = _IamPolicy()
        return secret

    def _add_version(
        self, project: str, secret_id: str, data: str, location: str | None = None
    ) -> JSON:
        key = self._secret_key(project, secret_id, location)
        self._secret(project, secret_id, location)
        versions = self.secret_versions[key]
        version: JSON = {
            "name": f"{key}/versions/{len(versions) + 1}",
            "state": "ENABLED",
            "createTime": _now(),
            "etag": f'"{len(versions) + 1}"',
        }
        if location is None:  # a regional secret has no replication to report
            version["replicationStatus"] = {"automatic": {}}
        versions.append({**version, "payload": {"data": data}})
        return version

    def _secret_policy(
        self, project: str, secret_id: str, location: str | None = None
    ) -> _IamPolicy:
        self._secret(project, secret_id, location)
        return self.secret_policies[self._secret_key(project, secret_id, location)]

    def _topic(self, project: str, topic: str) -> JSON:
        name = f"projects/{project}/topics/{topic}"
        if name not in self.topics:
            raise _not_found("Resource not found (resource=" + topic + ").")
        return self.topics[name]

    def _metric(self, project: str, metric: str) -> JSON:
        key = f"projects/{project}/metrics/{metric}"
        if key not in self.log_metrics:
            raise _not_found(f"Metric {metric}")
        return self.log_metrics[key]

    @staticmethod
    def _metric_descriptor(project: str, metric: str, sent: Any) -> JSON:
        """The descriptor Cloud Logging keeps: the default one unless sent, with its type."""
        descriptor = copy.deepcopy(sent) if isinstance(sent, dict) and sent else {}
        for key, value in DEFAULT_METRIC_DESCRIPTOR.items():
            if key != "unit" or not sent:
                descriptor.setdefault(key, value)
        metric_type = f"{_LOG_METRIC_TYPE}{metric}"
        descriptor.update(
            name=f"projects/{project}/metricDescriptors/{metric_type}", type=metric_type
        )
        return descriptor

    def _metric_seen(self, project: str, metric: str) -> bool:
        """Whether Cloud Monitoring knows the log-based metric yet: it exists, and has been
        refused ``metric_unknown_writes`` times since it was created (each call counts one)."""
        key = f"projects/{project}/metrics/{metric}"
        if key not in self.log_metrics:
            return False
        if self._metric_unknown_left.get(key, 0) > 0:
            self._metric_unknown_left[key] -= 1
            return False
        return True

    def _name_conditions(self, policy: JSON) -> None:
        """Cloud Monitoring names each condition; one sent without a name is a new one."""
        for condition in policy.get("conditions") or []:
            if isinstance(condition, dict) and "name" not in condition:
                condition["name"] = f"{policy['name']}/conditions/{next(self._ids)}"

    def _etag(self) -> str:
        return f"{next(self._ids):032x}"

    def _dashboard(self, project: str, dashboard: str) -> JSON:
        name = f"projects/{project}/dashboards/{dashboard}"
        if name not in self.dashboards:
            raise _not_found(f"Dashboard {name}")
        return self.dashboards[name]

    def _alert_policy(self, project: str, policy: str) -> JSON:
        name = f"projects/{project}/alertPolicies/{policy}"
        if name not in self.alert_policies:
            raise _not_found(f"Alert policy {name}")
        return self.alert_policies[name]

    @staticmethod
    def _function_name(params: dict[str, str]) -> str:
        p, r, f = params["project"], params["location"], params["function"]
        return f"projects/{p}/locations/{r}/functions/{f}"

    def _function(self, name: str) -> JSON:
        if name not in self.functions:
            raise _not_found(f"Resource '{name}' was")
        return self.functions[name]

    def _settle_function(self, function: JSON, params: dict[str, str]) -> JSON:
        """Fill in what Cloud Functions adds once a deployment finishes."""
        p, r = params["project"], params["location"]
        service_id = function["name"].rsplit("/", 1)[-1].lower().replace("_", "-")
        service = function.setdefault("serviceConfig", {})
        service.setdefault(
            "serviceAccountEmail", f"{PROJECT_NUMBER}-compute@developer.gserviceaccount.com"
        )
        service["service"] = f"projects/{p}/locations/{r}/services/{service_id}"
        service["uri"] = f"https://{service_id}-fakehash-uc.a.run.app"
        service.setdefault("ingressSettings", "ALLOW_ALL")
        service["revision"] = f"{service_id}-{next(self._ids):05d}-fak"
        function["url"] = (
            f"https://{r}-{p}.cloudfunctions.net/{function['name'].rsplit('/', 1)[-1]}"
        )
        if "eventTrigger" in function:  # Cloud Functions creates an Eventarc trigger for it
            trigger = f"projects/{p}/locations/{r}/triggers/{service_id}-{next(self._ids):06d}"
            function["eventTrigger"]["trigger"] = trigger
            function["eventTrigger"].setdefault("triggerRegion", r)
        function.update(state="ACTIVE", environment="GEN_2", updateTime=_now())
        self.run_policies.setdefault(service_id, _IamPolicy())
        return function

    def _function_operation(self, params: dict[str, str], target: str, verb: str) -> JSON:
        location = f"projects/{params['project']}/locations/{params['location']}"
        name = f"{location}/operations/op-{next(self._ids)}"
        stages = [
            {"name": stage, "state": "COMPLETE", "message": ""}
            for stage in ("BUILD", "SERVICE", "TRIGGER")
        ]
        metadata = {
            "@type": FUNCTIONS_OPERATION_TYPE,
            "target": target,
            "verb": verb,
            "stages": stages,
            "createTime": _now(),
            "endTime": _now(),
        }
        operation: JSON = {"name": name, "metadata": metadata, "done": True}
        if verb == "delete":
            operation["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
        else:
            operation["response"] = {"@type": FUNCTION_TYPE, **self.functions[target]}
        self.operations[name] = operation
        # The first answer is "still running", like the real API, so gcloud's polling is exercised.
        return {"name": name, "metadata": metadata, "done": False}

    def _run_policy(self, service_id: str) -> _IamPolicy:
        if service_id not in self.run_policies:
            raise _not_found(f"Service {service_id}")
        return self.run_policies[service_id]

    def _function_for_service(self, service_id: str) -> JSON:
        for function in self.functions.values():
            if function["serviceConfig"]["service"].endswith("/" + service_id):
                return function
        raise _not_found(f"Service {service_id}")

    @staticmethod
    def _job_name(params: dict[str, str]) -> str:
        return f"projects/{params['project']}/locations/{params['location']}/jobs/{params['job']}"

    def _job(self, name: str) -> JSON:
        if name not in self.jobs:
            raise _not_found(f"Job {name}")
        return self.jobs[name]

    def upload(self, upload_id: str, data: bytes) -> tuple[int, Any]:
        if upload_id not in self.uploads:
            return 404, {"error": "unknown upload"}
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            self.uploads[upload_id] = sorted(archive.namelist())
        return 200, {}


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_times(v)
            for k, v in value.items()
            if not k.endswith(("Time", "etag")) and k != "revision"
        }
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


class _RequestHandler(BaseHTTPRequestHandler):
    api: FakeGoogleApis
    protocol_version = "HTTP/1.1"
    # The host of the CONNECT tunnel this handler answers inside (a regional endpoint); "" for a
    # plain request to the fake or through it as a proxy.
    tunnel_host = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the record, not stderr."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_CONNECT(self) -> None:
        """gcloud, told to use the fake as its proxy, tunnels HTTPS to a regional endpoint
        (``secretmanager.L.rep.googleapis.com:443``): answer it over TLS as that host. A host that
        is no served location's endpoint would not resolve: refuse the tunnel (502)."""
        host = self.path.rsplit(":", 1)[0]
        context = self.api.tunnel_context(host)
        if context is None:
            self.api.record(RecordedRequest("CONNECT", "", "", {}, {}, None, 502, host=self.path))
            self.send_error(502, f"{host}: no such host (it does not resolve)")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        try:
            tunnel = context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        inner = type("_TunnelHandler", (type(self),), {"tunnel_host": host})
        try:
            inner(tunnel, self.client_address, self.server)
        except OSError:  # the client went away mid-request
            pass
        finally:
            tunnel.close()
        self.close_connection = True

    def _handle(self) -> None:
        url = urlsplit(self.path)  # an absolute URL when we are used as a proxy
        segments = url.path.lstrip("/").split("/", 1)
        api, rest = segments[0], "/" + (segments[1] if len(segments) > 1 else "")
        endpoint = None
        if self.tunnel_host:  # the path is the API's own: the host says which API it is
            api, rest = "secretmanager", url.path
            endpoint = _REGIONAL_HOST.fullmatch(self.tunnel_host)["location"]  # type: ignore[index]
        query = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}

        if api == "upload" and self.command == "PUT":
            status, answer = self.api.upload(rest.strip("/"), raw)
            body: Any = {"zip_entries": self.api.uploads.get(rest.strip("/"), []), "size": len(raw)}
        else:
            body = _parse_body(raw, self.headers.get("Content-Type", ""))
            call = _Call(
                params={}, query=query, body=body, base_url=self.api.base_url, endpoint=endpoint
            )
            route_api = REGIONAL_API if endpoint is not None else api
            status, answer = self.api.dispatch(self.command, route_api, rest, call)

        self.api.record(
            RecordedRequest(
                method=self.command,
                api=api,
                path=rest,
                query=query,
                headers=headers,
                body=body,
                status=status,
                host=self.tunnel_host,
            )
        )
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"binary_bytes": len(raw)}
    if "json" in content_type or text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return text
    if "x-www-form-urlencoded" in content_type:
        return {k: v[0] for k, v in parse_qs(text).items()}
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--record", type=Path, help="append every request to this JSONL file")
    parser.add_argument(
        "--served-locations",
        help="comma-separated locations Secret Manager serves (default: "
        + ",".join(sorted(DEFAULT_SERVED_LOCATIONS))
        + ")",
    )
    args = parser.parse_args(argv)
    served = None
    if args.served_locations is not None:
        served = frozenset(filter(None, (x.strip() for x in args.served_locations.split(","))))
    fake = FakeGoogleApis(record_path=args.record, served_locations=served)
    # Terminated, it still removes its certificate folder (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fake.start(args.host, args.port)
    print(f"fake google apis listening on {fake.base_url.removeprefix('http://')}", flush=True)
    trust = f"regional endpoints: trust {fake.ca_file} (CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE)"
    print(trust, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
