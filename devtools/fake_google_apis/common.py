"""What every API of the fake shares: the JSON type, the project number, Google's error shape,
the call a route handler gets, field masks, resource IAM policies and the route table itself.

Each API module (iam, secret_manager, ...) holds a mixin of :class:`Routes`; the server's
:class:`~devtools.fake_google_apis.server.FakeGoogleApis` inherits them all and keeps the state.
"""

from __future__ import annotations

import base64
import copy
import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

PROJECT_NUMBER = "123456789012"
"""Every project the fake knows has this number; names it returns use it, like Google's do."""

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
}


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


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def apply_mask(resource: JSON, patch: JSON, mask: str) -> None:
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
class IamPolicy:
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
        if sent and b64decode(sent) != b64decode(self.etag):
            raise ApiError(409, "etag mismatch: the policy changed concurrently", "ABORTED")
        self.bindings = [b for b in policy.get("bindings", []) if b.get("members")]
        self.generation += 1
        return self.as_json()


def b64decode(value: str) -> bytes:
    padded = value + "=" * (-len(value) % 4)
    return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))


@dataclass
class Call:
    """What a route handler sees: path parameters, query and JSON body."""

    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    base_url: str
    # The location of the regional endpoint the call came through; None: the global one.
    endpoint: str | None = None

    def q(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]


Handler = Callable[[Call], Any]


class Routes:
    """The route table and the state every API's routes share. The API mixins derive from it;
    :class:`~devtools.fake_google_apis.server.FakeGoogleApis` sets the state up."""

    _routes: list[tuple[str, str, re.Pattern[str], Handler]]
    # One counter for every id, etag and name the fake makes up, across all APIs.
    _ids: itertools.count[int]
    _lock: threading.RLock
    # Long-running operations, kept for their GET (Service Usage, Cloud Functions).
    operations: dict[str, JSON]

    def _route(self, method: str, api: str, pattern: str) -> Callable[[Handler], Handler]:
        # {name} matches one path segment; {name*} matches the rest of the path.
        regex = re.sub(r"\{(\w+)\*\}", r"(?P<\1>.+)", pattern)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/:]+)", regex)

        def register(handler: Handler) -> Handler:
            self._routes.append((method, api, re.compile(regex), handler))
            return handler

        return register

    def _get_operation(self, name: str) -> JSON:
        if name not in self.operations:
            raise not_found(f"Operation {name}")
        return self.operations[name]
