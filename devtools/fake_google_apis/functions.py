"""The fake Cloud Functions v2 and what a deploy of one touches besides: Cloud Build's default
service account, the source upload URL (and the upload itself, a PUT of a zip that the server
hands to :meth:`FunctionsApi.upload`), and the Cloud Run service behind each function (its IAM
policy, and its Knative-style description).

Function labels follow the label rules of :mod:`.rules`, Cloud Run service IAM policy bindings
its policy rules, and an event trigger's topic the topic name rule of :mod:`.pubsub`. The
sources are named as in the package docstring.

| rule | source | test |
|---|---|---|
| function id: 1-63 of letters, digits, ``-``, ``_`` (what both sources allow; see unknowns) | functions.proto CreateFunctionRequest.function_id; "Deploy a Cloud Run function" | test_function_id_allowed, test_function_id_refused |
| env var names: not empty, no ``=``, no ``X_GOOGLE_`` prefix, not PORT, K_SERVICE, K_REVISION, K_CONFIGURATION, FUNCTION_TARGET, FUNCTION_SIGNATURE_TYPE | Cloud Run "Environment variables for services" (Reserved environment variables for functions; reserved names of the container runtime contract) | test_function_env_var_names_that_are_reserved_or_invalid_are_refused, test_function_env_var_names_near_the_reserved_ones_are_allowed |
| env vars: at most 1000, names and values together at most 32 KiB | same page (maximum number; variable size limits for functions) | test_function_env_vars_are_at_most_1000_and_32_kib |
| memory: a number with unit k, M, G, Mi, Gi (or bytes), from 128M to 32Gi | functions.proto ServiceConfig.available_memory (units); "Configure memory and vCPU limits" (128 MiB to 32 GiB) | test_function_memory_allowed, test_function_memory_refused |
| timeout: at most 3600 s for HTTP functions, 540 s for event-driven | "Function timeout" | test_function_timeout_is_at_most_3600s_for_http_and_540s_for_events |
| build service account: projects/{projectId}/serviceAccounts/{email} | functions.proto BuildConfig.service_account | test_function_build_service_account_is_a_resource_name |
| runtime: required when creating | functions.proto BuildConfig.runtime | test_function_runtime_is_required_on_create |
| function updates (PATCH) obey the same rules | as above | test_function_update_is_checked_too |
| event trigger: event_type required; pubsub_topic a topic name; retry_policy RETRY_POLICY_UNSPECIFIED, RETRY_POLICY_DO_NOT_RETRY or RETRY_POLICY_RETRY | functions.proto EventTrigger | test_function_event_trigger_is_checked |
| unknown: function id length 1-3, upper case, ``_``, leading digit. functions.proto says "4-63 characters, valid characters /[a-z][0-9]-/"; the deploy guide says "start with a letter followed by up to 62 letters, numbers, hyphens, or underscores, end with a letter or a number". The fake refuses only what both refuse; deploy.sh asks for the stricter 4-63 of a-z, 0-9, - | | |
| unknown: memory between 128M (decimal) and 128Mi, and values between the listed tiers; the fake accepts them | | |
| unknown: a lower bound for timeoutSeconds, and bounds on maxInstanceCount; not checked | | |
| unknown: which runtime ids exist (the fake lists python311-313 but does not refuse others) and any rule for entryPoint | | |
"""  # noqa: E501 - the rule table keeps one row per line

from __future__ import annotations

import copy
import io
import re
import zipfile
from typing import Any

from .common import (
    JSON,
    PROJECT_NUMBER,
    ApiError,
    Call,
    IamPolicy,
    Routes,
    apply_mask,
    not_found,
    now,
)
from .pubsub import check_topic_name
from .rules import check_labels, check_policy, integer, invalid, string, utf8_size

FUNCTIONS_OPERATION_TYPE = "type.googleapis.com/google.cloud.functions.v2.OperationMetadata"
FUNCTION_TYPE = "type.googleapis.com/google.cloud.functions.v2.Function"

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
    value = string(function_id, "function_id")
    if not _FUNCTION_ID.fullmatch(value):
        raise invalid(
            "function_id",
            f"Invalid function_id {value!r}: at most 63 letters, digits, hyphens and underscores",
        )


def check_function(function: JSON, *, creating: bool) -> None:
    if "labels" in function:
        check_labels(function["labels"])
    build = function.get("buildConfig") or {}
    service = function.get("serviceConfig") or {}
    if creating and not build.get("runtime"):
        raise invalid("build_config.runtime", "runtime is required when creating a function")
    if build.get("serviceAccount"):
        account = string(build["serviceAccount"], "build_config.service_account")
        if not _BUILD_ACCOUNT.fullmatch(account):
            raise invalid(
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
        timeout = integer(service["timeoutSeconds"], "service_config.timeout_seconds")
        limit = MAX_EVENT_TIMEOUT_S if function.get("eventTrigger") else MAX_HTTP_TIMEOUT_S
        if timeout > limit:
            raise invalid(
                "service_config.timeout_seconds",
                f"timeout_seconds {timeout} is over the maximum of {limit} seconds",
            )


# functions.proto EventTrigger.
RETRY_POLICIES = frozenset({"RETRY_POLICY_UNSPECIFIED", "RETRY_POLICY_DO_NOT_RETRY"})
RETRY_POLICIES |= {"RETRY_POLICY_RETRY"}


def _check_event_trigger(trigger: Any) -> None:
    if not isinstance(trigger, dict):
        raise invalid("event_trigger", "event_trigger must be an object")
    if not trigger.get("eventType"):
        raise invalid("event_trigger.event_type", "event_type is required")
    if "pubsubTopic" in trigger:
        check_topic_name(trigger["pubsubTopic"], "event_trigger.pubsub_topic")
    if trigger.get("retryPolicy", "RETRY_POLICY_UNSPECIFIED") not in RETRY_POLICIES:
        raise invalid(
            "event_trigger.retry_policy", f"Invalid retry_policy {trigger['retryPolicy']!r}"
        )


def _check_env_vars(variables: Any) -> None:
    field = "service_config.environment_variables"
    if not isinstance(variables, dict):
        raise invalid(field, "environment_variables must be a map of strings")
    if len(variables) > MAX_ENV_VARS:
        raise invalid(field, f"{len(variables)} environment variables; the maximum is 1000")
    size = 0
    for key, value in variables.items():
        size += utf8_size(key) + utf8_size(string(value, f"{field}[{key!r}]"))
        if not key or "=" in key or key.startswith("X_GOOGLE_") or key in RESERVED_ENV_VARS:
            raise invalid(
                field,
                f"Environment variable name {key!r} is reserved or invalid: names cannot be "
                "empty, contain '=', start with X_GOOGLE_, or be one of "
                + ", ".join(sorted(RESERVED_ENV_VARS)),
            )
    if size > MAX_ENV_BYTES:
        raise invalid(field, f"environment variables take {size} bytes; the limit is 32 KiB")


def _check_memory(value: Any) -> None:
    field = "service_config.available_memory"
    match = _MEMORY.fullmatch(string(value, field))
    if match is None:
        raise invalid(field, f"Invalid memory {value!r}: a number with unit k, M, G, Mi or Gi")
    size = float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""]
    if not MIN_MEMORY_BYTES <= size <= MAX_MEMORY_BYTES:
        raise invalid(field, f"Invalid memory {value!r}: it must be from 128Mi to 32Gi")


class FunctionsApi(Routes):
    """Cloud Build's default account, Cloud Functions v2, uploads, and Cloud Run services."""

    functions: dict[str, JSON]
    run_policies: dict[str, IamPolicy]
    uploads: dict[str, list[str]]

    def _add_functions_routes(self) -> None:
        route = self._route
        loc = "/projects/{project}/locations/{location}"

        # --- Cloud Build
        @route("GET", "cloudbuild", "/v1" + loc + "/defaultServiceAccount")
        def default_build_account(c: Call) -> JSON:
            p = c.params["project"]
            email = f"{PROJECT_NUMBER}-compute@developer.gserviceaccount.com"
            return {
                "name": f"projects/{p}/locations/{c.params['location']}/defaultServiceAccount",
                "serviceAccountEmail": f"projects/{p}/serviceAccounts/{email}",
            }

        # --- Cloud Functions v2
        @route("GET", "cloudfunctions", "/v2" + loc + "/runtimes")
        def list_runtimes(_c: Call) -> JSON:
            return {
                "runtimes": [
                    {"name": r, "displayName": r, "stage": "GA", "environment": "GEN_2"}
                    for r in ("python311", "python312", "python313")
                ]
            }

        @route("POST", "cloudfunctions", "/v2" + loc + "/functions:generateUploadUrl")
        def generate_upload_url(c: Call) -> JSON:
            upload_id = f"upload-{next(self._ids)}"
            self.uploads[upload_id] = []
            return {
                "uploadUrl": f"{c.base_url}/upload/{upload_id}",
                "storageSource": {"bucket": "gcf-v2-uploads-fake", "object": f"{upload_id}.zip"},
            }

        @route("GET", "cloudfunctions", "/v2" + loc + "/functions/{function}")
        def get_function(c: Call) -> JSON:
            return self._function(self._function_name(c.params))

        @route("POST", "cloudfunctions", "/v2" + loc + "/functions")
        def create_function(c: Call) -> JSON:
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
        def update_function(c: Call) -> JSON:
            name = self._function_name(c.params)
            function = copy.deepcopy(self._function(name))
            mask = c.q("updateMask") or ",".join(c.body)
            apply_mask(function, c.body, mask)
            check_function(function, creating=False)
            self.functions[name] = self._settle_function(function, c.params)
            return self._function_operation(c.params, name, "update")

        @route("DELETE", "cloudfunctions", "/v2" + loc + "/functions/{function}")
        def delete_function(c: Call) -> JSON:
            name = self._function_name(c.params)
            function = self._function(name)
            service = function["serviceConfig"]["service"]
            self.run_policies.pop(service.rsplit("/", 1)[-1], None)
            del self.functions[name]
            return self._function_operation(c.params, name, "delete")

        @route("GET", "cloudfunctions", "/v2" + loc + "/operations/{operation}")
        def get_function_operation(c: Call) -> JSON:
            return self._get_operation(
                f"projects/{c.params['project']}/locations/{c.params['location']}"
                f"/operations/{c.params['operation']}"
            )

        # --- Cloud Run, Knative-style v1 (what gcloud uses for a service's IAM policy)
        for prefix in ("/v1" + loc, "/v2" + loc):

            @route("GET", "run", prefix + "/services/{service}:getIamPolicy")
            @route("POST", "run", prefix + "/services/{service}:getIamPolicy")
            def get_run_policy(c: Call) -> JSON:
                return self._run_policy(c.params["service"]).as_json()

            @route("POST", "run", prefix + "/services/{service}:setIamPolicy")
            def set_run_policy(c: Call) -> JSON:
                policy = self._run_policy(c.params["service"])
                check_policy(c.body.get("policy", {}))
                return policy.replace(c.body.get("policy", {}))

        @route("GET", "run", "/apis/serving.knative.dev/v1/namespaces/{project}/services/{service}")
        def get_knative_service(c: Call) -> JSON:
            function = self._function_for_service(c.params["service"])
            return {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": {"name": c.params["service"], "namespace": PROJECT_NUMBER},
                "status": {"url": function["serviceConfig"]["uri"]},
            }

    @staticmethod
    def _function_name(params: dict[str, str]) -> str:
        p, r, f = params["project"], params["location"], params["function"]
        return f"projects/{p}/locations/{r}/functions/{f}"

    def _function(self, name: str) -> JSON:
        if name not in self.functions:
            raise not_found(f"Resource '{name}' was")
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
        function.update(state="ACTIVE", environment="GEN_2", updateTime=now())
        self.run_policies.setdefault(service_id, IamPolicy())
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
            "createTime": now(),
            "endTime": now(),
        }
        operation: JSON = {"name": name, "metadata": metadata, "done": True}
        if verb == "delete":
            operation["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
        else:
            operation["response"] = {"@type": FUNCTION_TYPE, **self.functions[target]}
        self.operations[name] = operation
        # The first answer is "still running", like the real API, so gcloud's polling is exercised.
        return {"name": name, "metadata": metadata, "done": False}

    def _run_policy(self, service_id: str) -> IamPolicy:
        if service_id not in self.run_policies:
            raise not_found(f"Service {service_id}")
        return self.run_policies[service_id]

    def _function_for_service(self, service_id: str) -> JSON:
        for function in self.functions.values():
            if function["serviceConfig"]["service"].endswith("/" + service_id):
                return function
        raise not_found(f"Service {service_id}")

    def upload(self, upload_id: str, data: bytes) -> tuple[int, Any]:
        if upload_id not in self.uploads:
            return 404, {"error": "unknown upload"}
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            self.uploads[upload_id] = sorted(archive.namelist())
        return 200, {}
