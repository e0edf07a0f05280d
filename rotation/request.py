"""The body of a rotation request: ``{"secrets": [...], "force": bool, "dry_run": bool}``.

Pure: takes the raw bytes and content type, returns a validated request or a RequestError whose
message names the offending field. Nothing here echoes the body back.

The body must be I-JSON (RFC 7493), the strict profile of JSON: no member name twice in an
object, no lone surrogate (``"\\ud800"``), no ``NaN`` or ``Infinity`` (which Python's json takes),
and no number too large to read. Each is refused with a 400 naming the field, never a 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from momento_key_common.errors import ConfigError, ErrorCode, RequestError
from rotation.config import Config, has_surrogates, resolve_secret_name

MAX_BODY_BYTES = 16 * 1024
# No field takes a number; longer ones are only described (int() refuses past 4300 digits).
_MAX_NUMBER_CHARS = 100
_FIELDS = {"secrets": list, "force": bool, "dry_run": bool}
_JSON_TYPES = ("application/json", "text/json")
_EXAMPLE = '{"secrets": ["my-secret"], "force": false, "dry_run": false}'


@dataclass(frozen=True)
class RotationRequest:
    """What one run is asked to do: which secrets, forced or not, for real or not."""

    secrets: tuple[str, ...]
    force: bool
    dry_run: bool
    # Where the names came from, for the advice when one names no secret.
    named_in: str = "ROTATION_SECRETS"


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


def parse_request(
    body: bytes,
    content_type: str | None,
    config: Config,
    *,
    configured_as: Callable[[str], str | None] | None = None,
) -> RotationRequest:
    """Validate the body against the configuration; an empty body means "all, as configured".

    ``configured_as(name)`` returns the configured secret that ``name`` denotes, for a name not
    spelled as configured (a project number for its id); the caller may look that up.
    """
    if len(body) > MAX_BODY_BYTES:
        raise _too_large()
    fields = _fields(body, content_type)
    for name, value in fields.items():
        expected = _FIELDS.get(name)
        if expected is None:
            raise RequestError(
                f"unknown field {_short(name)}; accepted fields are secrets, force and dry_run",
                code=ErrorCode.UNKNOWN_FIELD,
            )
        if not isinstance(value, expected):
            kind = "a list of secret names" if expected is list else "true or false"
            raise RequestError(
                f"field {name} must be {kind}{_not(value)}", code=ErrorCode.INVALID_FIELD
            )
    return RotationRequest(
        # A name in the body must be configured too: ROTATION_SECRETS is where it comes from.
        secrets=_selected_secrets(fields.get("secrets"), config, configured_as),
        force=bool(fields.get("force", False)),
        dry_run=bool(fields.get("dry_run", False)) or config.dry_run,
    )


def _too_large() -> RequestError:
    return RequestError(
        f"the request body is larger than {MAX_BODY_BYTES} bytes; send at most the fields "
        "secrets, force and dry_run",
        status=413,
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
                f"a field name in the request body, {_short(name)}, has an unpaired surrogate "
                r"escape (\ud800 to \udfff), which is not text; accepted fields are secrets, "
                "force and dry_run",
                code=ErrorCode.INVALID_JSON,
            )
        if name in fields:
            raise RequestError(
                f"field {_short(name)} appears more than once in the request body; "
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
            f"content type {_short(media_type)} is not supported; send application/json",
            status=415,
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


def _selected_secrets(
    requested: list[Any] | None,
    config: Config,
    configured_as: Callable[[str], str | None] | None,
) -> tuple[str, ...]:
    if requested is None:
        return config.secrets
    if not requested:
        raise RequestError(
            "field secrets is an empty list; leave it out to rotate every configured secret",
            code=ErrorCode.INVALID_FIELD,
        )
    selected: list[str] = []
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
        if full not in config.secrets and configured_as is not None:
            full = configured_as(full) or full
        if full not in config.secrets:
            raise RequestError(
                f"secret {_named(name)} is not configured for rotation; configured: "
                f"{', '.join(config.secrets)}",
                status=403,
                code=ErrorCode.SECRET_NOT_CONFIGURED,
            )
        selected.append(full)
    return tuple(dict.fromkeys(selected))


def _not(value: object) -> str:
    """ ", not NaN, which is not JSON" for the values json reads but no field can hold."""
    return f", not {value.description}" if isinstance(value, _Unusable) else ""


def _named(text: str) -> str:
    """A secret name for a message: printable ones as they are (cut at 300 characters, with the
    length), so a 403 says which secret it means; others as :func:`_short` shows them."""
    if not text.isprintable():
        return _short(text)
    if len(text) <= 300:
        return repr(text)
    return f"{text[:300]!r}... ({len(text)} characters)"


def _short(text: str) -> str:
    # surrogatepass: text with lone surrogates is shown as hex, never put into the message.
    if len(text) <= 64 and text.isprintable():
        return repr(text)
    return repr(text[:32].encode("utf-8", "surrogatepass").hex() + "...")
