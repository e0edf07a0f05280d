"""The HTTP face of the function: a request in, JSON results and a status out.

The body is ``{"secrets": [...], "force": bool, "dry_run": bool}``, or empty for "every managed
secret, as configured". It is read up to :data:`MAX_BODY_BYTES` and no further, and parsed
purely: a validated :class:`~rotation.service.RotationRequest`, or a RequestError whose message
names the offending field. Nothing here echoes the body back. The body must be I-JSON
(RFC 7493), the strict profile of JSON: no member name twice in an object, no lone surrogate
(``"\\ud800"``), no ``NaN`` or ``Infinity`` (which Python's json takes), and no number too large
to read. Each is refused with a 400 naming the field, never a 500.

Status 200 when nothing failed, 500 when any secret failed, so Cloud Scheduler retries. Errors in
the request itself are 4xx with a message naming the field; no stack trace ever reaches a
response.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import flask

from momento_key_common import names, redact
from momento_key_common.errors import (
    ConfigError,
    ErrorCode,
    RequestError,
    RotationError,
    SecretStoreError,
    SetupError,
)
from rotation import service
from rotation.adapters import logs
from rotation.rules.config import Config, has_surrogates, resolve_secret_name
from rotation.service import RotationRequest, not_configured, short
from rotation.service.discovery import managed_secrets

if TYPE_CHECKING:
    from rotation.service.runtime import Runtime

Response = tuple[dict[str, Any], int, dict[str, str]]
_JSON = {"Content-Type": "application/json"}


def answer(runtime: Runtime, request: flask.Request) -> flask.Response:
    """The HTTP target's whole answer to ``request``; never raises."""
    # At most MAX_BODY_BYTES + 1 bytes are read, never the whole body: a 300 MB body costs
    # 16 KiB, and one whose Content-Length says it is too large is refused unread.
    try:
        body = read_body(request.stream, request.content_length)
    except RequestError as error:
        return _flask_response(*_error(error))
    return _flask_response(*handle(runtime, request.method, body, request.content_type))


def handle(runtime: Runtime, method: str, body: bytes, content_type: str | None) -> Response:
    """Rotate the requested secrets; never raises."""
    with redact.request_scope():
        try:
            return _handle(runtime, method, body, content_type)
        except Exception as error:  # noqa: BLE001 - a JSON 500, never Flask's page and traceback
            logs.error(
                f"unexpected internal error ({type(error).__name__}); report this",
                event="rotation.internal_error",
            )
            body_json = {
                "ok": False,
                "error": {
                    "code": str(ErrorCode.INTERNAL_ERROR),
                    "message": f"unexpected internal error ({type(error).__name__}); see the "
                    "function's logs and report this",
                },
                "results": [],
            }
            return body_json, 500, dict(_JSON)


def _handle(runtime: Runtime, method: str, body: bytes, content_type: str | None) -> Response:
    if method != "POST":
        return _error(
            RequestError(
                f"method {method} is not allowed; send POST", code=ErrorCode.METHOD_NOT_ALLOWED
            ),
            extra_headers={"Allow": "POST"},
        )
    try:
        request = parse_request(body, content_type, _managed(runtime))
        # Builds the client now: no credentials, or no emulator, is one error for the whole run.
        dependencies = runtime.dependencies()
        outcome = service.run(dependencies, request)
    except RequestError as error:
        return _error(error)
    except SetupError as error:
        # No secret can be read: one error for the whole run, and a 500 so Scheduler retries.
        return _error(error, event="rotation.setup_failed")
    except SecretStoreError as error:
        return _error(error, event="rotation.discovery_failed")
    return outcome.to_json(), 200 if outcome.ok else 500, dict(_JSON)


def _managed(runtime: Runtime) -> Config:
    """The configuration with every managed secret. With ROTATION_LABEL that takes one list
    call; without it, none (and a malformed request is refused before any client is built)."""
    if runtime.config.rotation_label is None:
        return runtime.config
    return replace(runtime.config, secrets=managed_secrets(runtime.config, runtime.store()))


def _error(
    error: RotationError,
    *,
    event: str = "rotation.request_rejected",
    extra_headers: dict[str, str] | None = None,
) -> Response:
    """The answer to a run refused as a whole, with the status its code owns."""
    status = error.code.http_status
    log = logs.error if status >= 500 else logs.warning
    prefix = "rejected request" if status < 500 else "cannot rotate"
    log(f"{prefix}: {error.message}", event=event, code=str(error.code))
    body = {
        "ok": False,
        "error": {"code": str(error.code), "message": error.message},
        "results": [],
    }
    return body, status, {**_JSON, **(extra_headers or {})}


def _flask_response(
    document: dict[str, Any], status: int, headers: dict[str, str]
) -> flask.Response:
    data = flask.json.dumps(document).encode()
    # functions-framework reads whatever is left of the request body into memory (get_data()
    # in an after_request hook) unless the response is streamed. An iterable body counts as
    # streamed, so a refused 300 MB body stays unread; it is complete, so it keeps its length.
    return flask.Response(
        iter((data,)), status=status, headers={**headers, "Content-Length": str(len(data))}
    )


# ------------------------------------------------------------------------------ the request body

MAX_BODY_BYTES = 16 * 1024
# No field takes a number; longer ones are only described (int() refuses past 4300 digits).
_MAX_NUMBER_CHARS = 100
_FIELDS = {"secrets": list, "force": bool, "dry_run": bool}
_JSON_TYPES = ("application/json", "text/json")
_EXAMPLE = '{"secrets": ["my-secret"], "force": false, "dry_run": false}'


class Readable(Protocol):
    """A binary stream: a WSGI input, ``flask.Request.stream``, ``io.BytesIO``."""

    def read(self, size: int = -1, /) -> bytes: ...


def read_body(stream: Readable, content_length: int | None) -> bytes:
    """Read the body, refusing one over MAX_BODY_BYTES with a 413 after at most that many + 1.

    A declared Content-Length over the limit is refused before anything is read; without one
    (chunked transfer) reading stops one byte past the limit, so the memory a body costs is
    bounded however large it is. Never reads past a declared Content-Length.
    """
    if content_length is not None and content_length > MAX_BODY_BYTES:
        raise _too_large()
    remaining = MAX_BODY_BYTES + 1 if content_length is None else max(content_length, 0)
    chunks: list[bytes] = []
    while remaining > 0:
        try:
            chunk = stream.read(remaining)
        except OSError:
            raise RequestError(
                "the request body could not be read (the connection failed); send it again",
                code=ErrorCode.INVALID_REQUEST,
            ) from None
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    body = b"".join(chunks)
    if len(body) > MAX_BODY_BYTES:
        raise _too_large()
    return body


def parse_request(body: bytes, content_type: str | None, config: Config) -> RotationRequest:
    """Validate the body against the configuration; an empty body means "all, as configured".

    Pure: a name that may denote a configured secret by its project's number is left for the
    service to resolve (it takes a lookup); any other name not configured is refused here.
    """
    if len(body) > MAX_BODY_BYTES:
        raise _too_large()
    fields = _fields(body, content_type)
    for name, value in fields.items():
        expected = _FIELDS.get(name)
        if expected is None:
            raise RequestError(
                f"unknown field {short(name)}; accepted fields are secrets, force and dry_run",
                code=ErrorCode.UNKNOWN_FIELD,
            )
        if not isinstance(value, expected):
            kind = "a list of secret names" if expected is list else "true or false"
            raise RequestError(
                f"field {name} must be {kind}{_not(value)}", code=ErrorCode.INVALID_FIELD
            )
    # A name in the body must be configured too: ROTATION_SECRETS is where it comes from.
    selected = _selected_secrets(fields.get("secrets"), config)
    return RotationRequest(
        secrets=tuple(selected),
        force=bool(fields.get("force", False)),
        dry_run=bool(fields.get("dry_run", False)) or config.dry_run,
        managed=config.secrets,
        written=tuple(selected.values()),
    )


def _too_large() -> RequestError:
    return RequestError(
        f"the request body is larger than {MAX_BODY_BYTES} bytes; send at most the fields "
        "secrets, force and dry_run",
        code=ErrorCode.BODY_TOO_LARGE,
    )


class _Unusable:
    """A number Python's json reads but a request cannot hold: NaN, Infinity, or too long.

    Kept as a value, not raised, so the field it sits in is named by the usual type check.
    """

    def __init__(self, description: str) -> None:
        self.description = description


def _int(text: str) -> int | _Unusable:
    if len(text) > _MAX_NUMBER_CHARS:
        return _Unusable(f"a number {len(text)} characters long")
    return int(text)


def _float(text: str) -> float | _Unusable:
    if len(text) > _MAX_NUMBER_CHARS:
        return _Unusable(f"a number {len(text)} characters long")
    value = float(text)
    return value if math.isfinite(value) else _Unusable("a number too large to represent")


def _constant(text: str) -> _Unusable:
    return _Unusable(f"{text}, which is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if has_surrogates(name):
            raise RequestError(
                f"a field name in the request body, {short(name)}, has an unpaired surrogate "
                r"escape (\ud800 to \udfff), which is not text; accepted fields are secrets, "
                "force and dry_run",
                code=ErrorCode.INVALID_JSON,
            )
        if name in fields:
            raise RequestError(
                f"field {short(name)} appears more than once in the request body; "
                "send each field once",
                code=ErrorCode.INVALID_JSON,
            )
        fields[name] = value
    return fields


def _fields(body: bytes, content_type: str | None) -> dict[str, Any]:
    if not body.strip():
        return {}
    media_type = (content_type or "").split(";")[0].strip().lower()
    # Cloud Scheduler sends application/octet-stream unless told otherwise; accept it as JSON.
    if media_type and media_type not in (*_JSON_TYPES, "application/octet-stream"):
        raise RequestError(
            f"content type {short(media_type)} is not supported; send application/json",
            code=ErrorCode.UNSUPPORTED_CONTENT_TYPE,
        )
    try:
        fields = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_object,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    # ValueError covers JSONDecodeError and anything else json itself refuses.
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RequestError(
            f"the request body is not JSON; send an object such as {_EXAMPLE} or no body",
            code=ErrorCode.INVALID_JSON,
        ) from None
    if not isinstance(fields, dict):
        raise RequestError(
            "the request body must be a JSON object with the fields secrets, force and dry_run"
            f"{_not(fields)}",
            code=ErrorCode.INVALID_JSON,
        )
    return fields


def _selected_secrets(requested: list[Any] | None, config: Config) -> dict[str, str]:
    """Full name -> the name as written, in the order written, each secret once."""
    if requested is None:
        return {secret: secret for secret in config.secrets}
    if not requested:
        raise RequestError(
            "field secrets is an empty list; leave it out to rotate every configured secret",
            code=ErrorCode.INVALID_FIELD,
        )
    selected: dict[str, str] = {}
    for index, name in enumerate(requested):
        if not isinstance(name, str):
            raise RequestError(
                f"field secrets[{index}] must be a string{_not(name)}",
                code=ErrorCode.INVALID_FIELD,
            )
        if has_surrogates(name):
            raise RequestError(
                rf"field secrets[{index}] has an unpaired surrogate escape (\ud800 to \udfff), "
                "which is not text; send a secret name of letters, digits, - and _",
                code=ErrorCode.INVALID_FIELD,
            )
        try:
            full = resolve_secret_name(name, config.project, source=f"field secrets[{index}]")
        except ConfigError as error:
            raise RequestError(error.message, code=ErrorCode.INVALID_FIELD) from None
        if full not in config.secrets and not _may_be_configured(full, config.secrets):
            raise not_configured(name, config.secrets)
        selected.setdefault(full, name)
    return selected


def _may_be_configured(full: str, configured: tuple[str, ...]) -> bool:
    """Whether ``full`` may be a configured secret named by its project's number: only Secret
    Manager can tell (:func:`rotation.service.run` asks it)."""
    name = names.of(full)
    return (
        name is not None
        and name.project.isdigit()
        and any(name.same_place(other) for other in map(names.of, configured) if other)
    )


def _not(value: object) -> str:
    """ ", not NaN, which is not JSON" for the values json reads but no field can hold."""
    return f", not {value.description}" if isinstance(value, _Unusable) else ""
