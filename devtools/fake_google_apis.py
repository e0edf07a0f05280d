"""A local fake of the Google Cloud REST APIs that `deploy.sh` drives through the real gcloud CLI.

It keeps just enough state for create / describe / update / delete flows and records every
request (method, API, path, query, headers without Authorization, body) in memory and, when
asked, to a JSONL file, so tests can assert on what gcloud actually sent.

Point gcloud at it with :func:`gcloud_env`. Each API gets its own path prefix
(``http://127.0.0.1:PORT/<api>/``), so routing never depends on guessing the service from a path.
The server is also an HTTP proxy: gcloud builds regional Cloud Run hosts
(``us-central1-<override host>``) that never resolve, and a proxy catches those requests.

Run standalone::

    python -m devtools.fake_google_apis --port 0 --record requests.jsonl

It prints one line, ``fake google apis listening on 127.0.0.1:PORT``, then serves until killed.
"""

from __future__ import annotations

import argparse
import base64
import copy
import io
import itertools
import json
import re
import sys
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
READ_ONLY_SUFFIXES = (":getIamPolicy", ":testIamPermissions", ":generateUploadUrl")


def gcloud_env(base_url: str, config_dir: Path, *, project: str | None = None) -> dict[str, str]:
    """The environment variables that make gcloud talk only to the fake at ``base_url``.

    ``config_dir`` becomes ``CLOUDSDK_CONFIG``, a throwaway gcloud configuration folder.
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
    for api in API_OVERRIDES:
        env[f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}"] = f"{base_url}/{api}/"
    return env


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it. ``body`` is parsed JSON, text, or a summary of binary."""

    method: str
    api: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int

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


class ApiError(Exception):
    """Answered as a Google-style JSON error."""

    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_NAMES.get(code, "UNKNOWN")

    def as_json(self) -> JSON:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


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


Handler = Callable[["_Call"], Any]


@dataclass
class _Call:
    """What a route handler sees: path parameters, query and JSON body."""

    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    base_url: str

    def q(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]


class FakeGoogleApis:
    """In-memory Google Cloud control plane for one or more projects, recording every request."""

    def __init__(self, record_path: Path | None = None) -> None:
        self.record_path = record_path
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

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGoogleApis:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------------------- seeding

    def add_secret(self, project: str, secret_id: str, payloads: tuple[bytes, ...] = ()) -> None:
        """Create a secret (and versions) directly, as if it had been there before a test."""
        with self._lock:
            self._create_secret(project, secret_id, {"replication": {"automatic": {}}})
            for data in payloads:
                self._add_version(project, secret_id, base64.b64encode(data).decode())

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
        def get_project_policy(_c: _Call) -> JSON:
            return {"version": 1, "etag": base64.b64encode(b"project").decode(), "bindings": []}

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
            ids = list(c.body.get("serviceIds", []))
            self.enabled_services.setdefault(p, set()).update(ids)
            services = [self._service(p, s, "ENABLED") for s in ids]
            return self._done_operation(
                f"operations/acf.{next(self._ids)}",
                {"@type": BATCH_ENABLE_TYPE, "services": services},
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
            _apply_mask(role, c.body, mask)
            return self._store_role(role)

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

        # --- Secret Manager
        @route("GET", "secretmanager", "/v1/projects/{project}/secrets/{secret}")
        def get_secret(c: _Call) -> JSON:
            return self._secret(c.params["project"], c.params["secret"])

        @route("POST", "secretmanager", "/v1/projects/{project}/secrets")
        def create_secret(c: _Call) -> JSON:
            return self._create_secret(c.params["project"], c.q("secretId"), c.body)

        @route("GET", "secretmanager", "/v1/projects/{project}/secrets/{secret}/versions")
        def list_versions(c: _Call) -> JSON:
            key = self._secret_key(c.params["project"], c.params["secret"])
            self._secret(c.params["project"], c.params["secret"])
            versions = list(reversed(self.secret_versions.get(key, [])))
            return {"versions": versions, "totalSize": len(versions)} if versions else {}

        @route("POST", "secretmanager", "/v1/projects/{project}/secrets/{secret}:addVersion")
        def add_version(c: _Call) -> JSON:
            payload = c.body.get("payload", {})
            version = self._add_version(
                c.params["project"], c.params["secret"], payload.get("data", "")
            )
            if "dataCrc32c" in payload:  # gcloud checks this echo to detect corruption in transit
                version["clientSpecifiedPayloadChecksum"] = True
            return version

        @route("GET", "secretmanager", "/v1/projects/{project}/secrets/{secret}:getIamPolicy")
        def get_secret_policy(c: _Call) -> JSON:
            return self._secret_policy(c.params["project"], c.params["secret"]).as_json()

        @route("POST", "secretmanager", "/v1/projects/{project}/secrets/{secret}:setIamPolicy")
        def set_secret_policy(c: _Call) -> JSON:
            policy = self._secret_policy(c.params["project"], c.params["secret"])
            return policy.replace(c.body.get("policy", {}))

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
            name = self._function_name({**c.params, "function": c.q("functionId")})
            if name in self.functions:
                raise ApiError(409, f"Function {name} already exists")
            function = copy.deepcopy(c.body)
            function["name"] = name
            self.functions[name] = self._settle_function(function, c.params)
            return self._function_operation(c.params, name, "create")

        @route("PATCH", "cloudfunctions", "/v2" + loc + "/functions/{function}")
        def update_function(c: _Call) -> JSON:
            name = self._function_name(c.params)
            function = self._function(name)
            mask = c.q("updateMask") or ",".join(c.body)
            _apply_mask(function, c.body, mask)
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
                return self._run_policy(c.params["service"]).replace(c.body.get("policy", {}))

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
            job = self._job(self._job_name(c.params))
            _apply_mask(job, c.body, c.q("updateMask") or ",".join(c.body))
            job["userUpdateTime"] = _now()
            return job

        @route("DELETE", "cloudscheduler", "/v1" + loc + "/jobs/{job}")
        def delete_job(c: _Call) -> JSON:
            del self.jobs[self._job(self._job_name(c.params))["name"]]
            return {}

        @route("POST", "cloudscheduler", "/v1" + loc + "/jobs/{job}:run")
        def run_job(c: _Call) -> JSON:
            return self._job(self._job_name(c.params))

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
    def _secret_key(project: str, secret_id: str) -> str:
        return f"projects/{PROJECT_NUMBER}/secrets/{secret_id}"

    def _secret(self, project: str, secret_id: str) -> JSON:
        key = self._secret_key(project, secret_id)
        if key not in self.secrets:
            raise _not_found(f"Secret [{key}]")
        return self.secrets[key]

    def _create_secret(self, project: str, secret_id: str, body: JSON) -> JSON:
        key = self._secret_key(project, secret_id)
        if key in self.secrets:
            raise ApiError(409, f"Secret [{key}] already exists.")
        secret = {**copy.deepcopy(body), "name": key, "createTime": _now(), "etag": '"1"'}
        self.secrets[key] = secret
        self.secret_versions[key] = []
        self.secret_policies[key] = _IamPolicy()
        return secret

    def _add_version(self, project: str, secret_id: str, data: str) -> JSON:
        key = self._secret_key(project, secret_id)
        self._secret(project, secret_id)
        versions = self.secret_versions[key]
        version = {
            "name": f"{key}/versions/{len(versions) + 1}",
            "state": "ENABLED",
            "createTime": _now(),
            "etag": f'"{len(versions) + 1}"',
            "replicationStatus": {"automatic": {}},
        }
        versions.append({**version, "payload": {"data": data}})
        return version

    def _secret_policy(self, project: str, secret_id: str) -> _IamPolicy:
        self._secret(project, secret_id)
        return self.secret_policies[self._secret_key(project, secret_id)]

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

    def _handle(self) -> None:
        url = urlsplit(self.path)  # an absolute URL when we are used as a proxy
        segments = url.path.lstrip("/").split("/", 1)
        api, rest = segments[0], "/" + (segments[1] if len(segments) > 1 else "")
        query = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}

        if api == "upload" and self.command == "PUT":
            status, answer = self.api.upload(rest.strip("/"), raw)
            body: Any = {"zip_entries": self.api.uploads.get(rest.strip("/"), []), "size": len(raw)}
        else:
            body = _parse_body(raw, self.headers.get("Content-Type", ""))
            call = _Call(params={}, query=query, body=body, base_url=self.api.base_url)
            status, answer = self.api.dispatch(self.command, api, rest, call)

        self.api.record(
            RecordedRequest(
                method=self.command,
                api=api,
                path=rest,
                query=query,
                headers=headers,
                body=body,
                status=status,
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
    args = parser.parse_args(argv)
    fake = FakeGoogleApis(record_path=args.record)
    fake.start(args.host, args.port)
    print(f"fake google apis listening on {fake.base_url.removeprefix('http://')}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
