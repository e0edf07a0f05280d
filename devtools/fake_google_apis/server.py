"""The fake's HTTP server: routing, the request record, the proxy, and the state of every API.

:class:`FakeGoogleApis` inherits the route handlers of each API's mixin (:mod:`.projects`,
:mod:`.iam`, :mod:`.secret_manager`, :mod:`.pubsub`, :mod:`.logging_metrics`, :mod:`.monitoring`,
:mod:`.functions`, :mod:`.scheduler`) and holds the state they share. Requests reach it under
``/<api>/`` (the gcloud endpoint overrides of :func:`gcloud_env`), through it as an HTTP proxy,
or inside a CONNECT tunnel to a regional Secret Manager endpoint (:mod:`.tls`).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .common import JSON, ApiError, Call, Handler, IamPolicy
from .functions import FunctionsApi
from .iam import IamApi
from .monitoring import MonitoringApi
from .projects import ProjectApis
from .pubsub import PubSubApi
from .scheduler import SchedulerApi
from .secret_manager import DEFAULT_SERVED_LOCATIONS, REGIONAL_API, SecretManagerApi
from .tls import REGIONAL_HOST, TunnelCertificates

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

READ_ONLY_SUFFIXES = (":getIamPolicy", ":testIamPermissions", ":generateUploadUrl")


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
        match = REGIONAL_HOST.fullmatch(self.host.rsplit(":", 1)[0]) if self.host else None
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


class FakeGoogleApis(
    ProjectApis,
    IamApi,
    SecretManagerApi,
    PubSubApi,
    MonitoringApi,
    FunctionsApi,
    SchedulerApi,
):
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
        self._certificates: TunnelCertificates | None = None
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.enabled_services: dict[str, set[str]] = {}
        self.service_accounts: dict[str, JSON] = {}
        self.roles: dict[str, JSON] = {}
        self.secrets: dict[str, JSON] = {}
        self.secret_versions: dict[str, list[JSON]] = {}
        self.secret_policies: dict[str, IamPolicy] = {}
        self.functions: dict[str, JSON] = {}
        self.run_policies: dict[str, IamPolicy] = {}
        self.jobs: dict[str, JSON] = {}
        self.operations: dict[str, JSON] = {}
        self.uploads: dict[str, list[str]] = {}
        self.topics: dict[str, JSON] = {}
        self.topic_policies: dict[str, IamPolicy] = {}
        self.project_policies: dict[str, IamPolicy] = {}
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

        self._certificates = self._certificates or TunnelCertificates()
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
        match = REGIONAL_HOST.fullmatch(host)
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

    # ----------------------------------------------------------------------------- state

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

    def dispatch(self, method: str, api: str, path: str, call: Call) -> tuple[int, Any]:
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

    def _add_routes(self) -> None:
        # Each API's handlers live in its mixin. Only the order within one API matters (the
        # first route that matches answers); this is the order they have always had.
        self._add_project_routes()
        self._add_iam_routes()
        self._add_secret_manager_routes()
        self._add_pubsub_routes()
        self._add_logging_routes()
        self._add_monitoring_routes()
        self._add_functions_routes()
        self._add_scheduler_routes()


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
            endpoint = REGIONAL_HOST.fullmatch(self.tunnel_host)["location"]  # type: ignore[index]
        query = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}

        if api == "upload" and self.command == "PUT":
            status, answer = self.api.upload(rest.strip("/"), raw)
            body: Any = {"zip_entries": self.api.uploads.get(rest.strip("/"), []), "size": len(raw)}
        else:
            body = _parse_body(raw, self.headers.get("Content-Type", ""))
            call = Call(
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
