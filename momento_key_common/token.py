"""The token document and the Momento key inside it. Pure: parsing and rendering, no I/O.

The document is the JSON that Momento's console "Download JSON" gives, or what Momento's AWS
refresh lambda writes. We read what we need and leave everything else exactly as we found it,
so consumers that read other fields (or other spellings) keep working after a rotation.

No error message here ever quotes the payload or the key: a malformed document is described by
what is wrong with it (which field, which type), never by its content.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from momento_key_common.errors import ErrorCode, TokenDocumentError, V2KeyError

# Field names seen in the wild for the key, in order of preference when several are present.
KEY_FIELDS = ("apiKey", "authToken", "apiToken")
REFRESH_TOKEN_FIELD = "refreshToken"
VALID_UNTIL_FIELD = "validUntil"
ENDPOINT_FIELD = "endpoint"
MAX_PAYLOAD_BYTES = 64 * 1024  # Secret Manager's own limit on a version's payload
MAX_EPOCH_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the last moment datetime can show
V2_MESSAGE = (
    "the key is a v2 Momento API key, and Momento cannot refresh v2 keys; create a new key in "
    "the Momento console before this one expires and add it as a new version, or stop "
    "rotating this secret"
)
_REWRITE_HEADROOM = 512  # a refreshed key or token may be somewhat longer than the old one
# Every message here says what is wrong, then, after "; ", what to do: this, by default.
_ADD_A_GOOD_VERSION = "add a version holding the JSON Momento's console downloads"


class KeyForm(Enum):
    """The shapes a Momento API key comes in (see ../shared/PLATFORM.md)."""

    V1 = "v1"  # base64 of {"endpoint", "api_key": JWT}
    LEGACY = "legacy"  # a bare JWT with cp/c claims naming the endpoints
    V2 = "v2"  # a JWT with claim t == "g"; cannot be refreshed


@dataclass(frozen=True, repr=False)
class ApiKey:
    """A parsed Momento API key. ``repr`` is redacted so it can never reach a log by accident."""

    text: str  # the key exactly as stored
    jwt: str  # the inner JWT that Momento's services receive
    form: KeyForm
    endpoint: str | None  # the base endpoint E (control.E, cache.E ...), when the key names one
    expires_at: int | None  # the JWT's exp claim, epoch seconds
    issued_at: int | None = None  # the JWT's iat claim: with exp, the key's whole lifetime

    @property
    def lifetime(self) -> int | None:
        """Seconds from issue to expiry (a refresh keeps it); None when either is unknown."""
        if self.expires_at is None or self.issued_at is None:
            return None
        return self.expires_at - self.issued_at if self.expires_at > self.issued_at else None

    def __repr__(self) -> str:
        return f"ApiKey(form={self.form.value}, endpoint={self.endpoint!r}, redacted)"


@dataclass(frozen=True, repr=False)
class TokenDocument:
    """A parsed token document, keeping the original object for a faithful rewrite."""

    fields: Mapping[str, Any]
    key_fields: tuple[str, ...]  # every field holding the key, most preferred first
    key: ApiKey
    # "" when the document has none: the key still works until it expires, but cannot be
    # refreshed (Momento answered a refresh without one, or it was stored without one).
    refresh_token: str
    # The document's validUntil, epoch seconds: None when absent, 0 or a fraction of a second
    # (Momento writes 0 for "never expires"). A copy of the truth, which can lie: see expires_at.
    valid_until: int | None

    def __repr__(self) -> str:
        return f"TokenDocument(key_fields={self.key_fields!r}, key={self.key!r}, redacted)"

    @property
    def key_field(self) -> str:
        return self.key_fields[0]

    @property
    def expires_at(self) -> int | None:
        """When the key stops working, epoch seconds; None when it never does.

        Momento enforces the JWT's ``exp``, so that is the truth whenever the key carries one;
        ``validUntil`` only speaks for keys without it.
        """
        if self.key.expires_at is not None:
            return self.key.expires_at
        return self.valid_until

    @property
    def expiry_disagreement(self) -> str | None:
        """Why ``validUntil`` is wrong about the key, when the document has one that is."""
        if VALID_UNTIL_FIELD not in self.fields or self.key.expires_at is None:
            return None
        if self.valid_until == self.key.expires_at:
            return None
        stored = "never expires" if self.valid_until is None else f"{self.valid_until}"
        return (
            f"the document's {VALID_UNTIL_FIELD} ({stored}) disagrees with the key's own expiry "
            f"(exp {self.key.expires_at}); the key's exp is what Momento enforces and is used, "
            "and the next refresh stores it"
        )

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every string in this document that must never be logged."""
        return (self.key.text, self.key.jwt, self.refresh_token)


@dataclass(frozen=True, repr=False)
class RefreshedKey:
    """What Momento's RefreshApiToken answered."""

    jwt: str
    refresh_token: str
    endpoint: str
    valid_until: int | None  # what Momento said; None when it said 0

    def __repr__(self) -> str:
        return f"RefreshedKey(endpoint={self.endpoint!r}, valid_until={self.valid_until}, redacted)"

    @property
    def expires_at(self) -> int | None:
        """The new key's own exp when it carries one (Momento's valid_until can be 0 or stale)."""
        exp = jwt_expiry(self.jwt)
        return exp if exp is not None else self.valid_until


def parse_document(payload: bytes) -> TokenDocument:
    """Parse a stored payload into a TokenDocument, or raise TokenDocumentError saying why.

    A missing or empty refresh token is not an error here: the key is usable, and whether it
    can be refreshed is the caller's question (``document.refresh_token``).
    """
    document = _load_object(payload)
    key_fields, key = _key(document)
    if key.form is KeyForm.V2:
        # Checked before the refresh token: v2 keys come without one, and "add the refresh
        # token" would be the wrong advice.
        raise V2KeyError(V2_MESSAGE)
    refresh_token = _optional_string(document, REFRESH_TOKEN_FIELD)
    return TokenDocument(
        fields=document,
        key_fields=key_fields,
        key=key,
        refresh_token=refresh_token,
        valid_until=_valid_until(document),
    )


def parse_key(payload: bytes) -> ApiKey:
    """Only the key of a stored payload, for an application that uses it (momento_key_reader).

    The same checks as :func:`parse_document`, less the refresh token: an application needs
    none, and the function stores a refreshed key even when Momento sent no refresh token
    (``refresh_token_missing``); that key works until it expires. Any key form is returned.
    """
    _, key = _key(_load_object(payload))
    return key


def _load_object(payload: bytes) -> dict[str, Any]:
    """The payload's JSON object, or TokenDocumentError saying why it is not one."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise TokenDocumentError(
            f"the payload is {len(payload)} bytes, more than the {MAX_PAYLOAD_BYTES} a token "
            "document can be; add a version holding the JSON Momento's console downloads"
        )
    try:
        # utf-8-sig accepts a byte-order mark, which some editors add when saving the download.
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TokenDocumentError(
            "the payload is not UTF-8 text; add a version holding the JSON Momento's console "
            "downloads"
        ) from None
    try:
        document = json.loads(text)
    except RecursionError:
        raise TokenDocumentError(
            "the payload is JSON nested too deeply to be a token document; add a version "
            "holding the JSON Momento's console downloads"
        ) from None
    except json.JSONDecodeError as error:
        # Only the position: JSONDecodeError's .doc would carry the payload itself.
        raise TokenDocumentError(
            f"the payload is not JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "add a version holding the JSON Momento's console downloads"
        ) from None
    except ValueError:
        # Python refuses to convert integers of more than 4300 digits (CVE-2020-10735).
        raise TokenDocumentError(
            "the payload holds a number with thousands of digits, which no token document has; "
            "add a version holding the JSON Momento's console downloads"
        ) from None
    if not isinstance(document, dict):
        raise TokenDocumentError(
            f"the payload is JSON {_json_type(document)}, not an object with apiKey and "
            "refreshToken; add a version holding the JSON Momento's console downloads"
        )
    _refuse_lone_surrogates(document)
    return document


def render_refreshed(document: TokenDocument, refreshed: RefreshedKey) -> bytes:
    """The document with the refreshed key, in the stored document's own field names and types."""
    fields = dict(document.fields)
    new_key = encode_v1_key(refreshed.endpoint, refreshed.jwt)
    for key_field in document.key_fields:  # a consumer may read any of them
        fields[key_field] = new_key
    fields[REFRESH_TOKEN_FIELD] = refreshed.refresh_token
    stored_valid_until = document.fields.get(VALID_UNTIL_FIELD)
    new_valid_until = refreshed.expires_at or 0
    # A consumer that parses validUntil as a string must keep getting a string, and vice versa.
    fields[VALID_UNTIL_FIELD] = (
        str(new_valid_until) if isinstance(stored_valid_until, str) else new_valid_until
    )
    # Every field that describes the key, a stale endpoint included, describes the new one.
    if refreshed.endpoint:
        fields[ENDPOINT_FIELD] = refreshed.endpoint
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


def check_rewritable(document: TokenDocument) -> None:
    """Refuse, before Momento is called, a document whose rewrite could not be stored.

    A refresh spends the refresh token; if the rewritten document then exceeded Secret Manager's
    64 KiB limit, the new key would be lost. So rehearse the rewrite with a key and token of
    generous size first.
    """
    rehearsal = RefreshedKey(
        jwt="x" * (len(document.key.jwt) + _REWRITE_HEADROOM),
        refresh_token="x" * (len(document.refresh_token) + _REWRITE_HEADROOM),
        endpoint="x" * (len(document.key.endpoint or "") + _REWRITE_HEADROOM),
        valid_until=2**40,
    )
    size = len(render_refreshed(document, rehearsal))
    if size > MAX_PAYLOAD_BYTES:
        raise TokenDocumentError(
            f"the refreshed document would be about {size} bytes, more than Secret Manager's "
            f"{MAX_PAYLOAD_BYTES}-byte limit, so the new key could not be stored; remove "
            "unneeded fields from the stored document (add a trimmed version) and run again",
            code=ErrorCode.DOCUMENT_TOO_LARGE,
        )


def encode_v1_key(endpoint: str, jwt: str) -> str:
    """The v1 key form Momento's SDKs parse: base64 of {"endpoint", "api_key"}."""
    inner = json.dumps({"endpoint": endpoint, "api_key": jwt}, separators=(",", ":"))
    return base64.b64encode(inner.encode("utf-8")).decode("ascii")


def parse_api_key(text: str, *, field: str = "apiKey") -> ApiKey:
    """Recognise a v1, legacy or v2 Momento key without any network call."""
    v1 = _decode_v1(text)
    if v1 is not None:
        endpoint, jwt = v1
        claims = decode_jwt_claims(jwt, field=field)
        form = KeyForm.V2 if claims.get("t") == "g" else KeyForm.V1
        return ApiKey(text, jwt, form, endpoint, _exp(claims), _iat(claims))
    claims = decode_jwt_claims(text, field=field)
    if claims.get("t") == "g":
        return ApiKey(text, text, KeyForm.V2, None, _exp(claims), _iat(claims))
    control = claims.get("cp")
    if isinstance(control, str) and control:
        endpoint = control.removeprefix("control.")
        return ApiKey(text, text, KeyForm.LEGACY, endpoint, _exp(claims), _iat(claims))
    raise TokenDocumentError(
        f"{field} is a JWT without the claims of a Momento key (no endpoint); "
        "check that the secret holds a Momento API key"
    )


def decode_jwt_claims(token: str, *, field: str = "apiKey") -> dict[str, Any]:
    """The claims of a JWT, unverified: we only read expiry and form, Momento verifies."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenDocumentError(
            f"{field} is neither a v1 Momento key nor a JWT; check that the secret holds a "
            "Momento API key"
        )
    try:
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise TokenDocumentError(
            f"{field} looks like a JWT but its claims cannot be decoded; check that the secret "
            "holds a Momento API key"
        ) from None
    if not isinstance(claims, dict):
        raise TokenDocumentError(
            f"{field} is a JWT whose claims are not an object; check that the secret holds a "
            "Momento API key"
        )
    return claims


def _decode_v1(text: str) -> tuple[str, str] | None:
    if "." in text:  # base64 never contains a dot; a JWT always does
        return None
    try:
        decoded = json.loads(base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(decoded, dict):
        return None
    endpoint, jwt = decoded.get("endpoint"), decoded.get("api_key")
    if isinstance(endpoint, str) and endpoint and isinstance(jwt, str) and jwt:
        return endpoint, jwt
    return None


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _exp(claims: Mapping[str, Any]) -> int | None:
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and math.isfinite(exp):
        if not 0 <= exp <= MAX_EPOCH_SECONDS:
            raise TokenDocumentError(
                "the key's exp claim is not a plausible time (year 1970-9999); "
                f"{_ADD_A_GOOD_VERSION}"
            )
        return int(exp)
    return None


def _iat(claims: Mapping[str, Any]) -> int | None:
    """The iat claim when it is a plausible time; None otherwise (it is only ever informative)."""
    iat = claims.get("iat")
    if isinstance(iat, int | float) and not isinstance(iat, bool) and math.isfinite(iat):
        return int(iat) if 0 <= iat <= MAX_EPOCH_SECONDS else None
    return None


def _key(document: Mapping[str, Any]) -> tuple[tuple[str, ...], ApiKey]:
    """Every field holding the key, and the key. Several fields must hold the same key."""
    present = tuple(field for field in KEY_FIELDS if field in document)
    if not present:
        raise TokenDocumentError(
            f"the document has no key: expected one of {', '.join(KEY_FIELDS)}; add a version "
            "holding the JSON Momento's console downloads"
        )
    keys = [parse_api_key(_required_string(document, field), field=field) for field in present]
    primary = keys[0]
    for field, other in zip(present[1:], keys[1:], strict=True):
        if other.jwt != primary.jwt:
            # Rewriting both with one refreshed key would silently replace a different key.
            raise TokenDocumentError(
                f"the document holds different keys under {present[0]} and {field}; a refresh "
                "can only rewrite one key: add a version that keeps one of them"
            )
    return present, primary


def jwt_expiry(token: str) -> int | None:
    """A JWT's exp claim, or None when it has none or cannot be read as a JWT."""
    try:
        return _exp(decode_jwt_claims(token))
    except TokenDocumentError:
        return None


def _refuse_lone_surrogates(document: Mapping[str, Any]) -> None:
    """JSON escapes can spell lone surrogates, which are not text and cannot be stored back."""
    pending: list[Any] = [document]
    while pending:  # iterative: a deep document must not exhaust the stack here
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise TokenDocumentError(
                    "the payload holds a lone surrogate escape (like \\ud800), which is not "
                    "text; add a version holding the JSON Momento's console downloads"
                ) from None


def _required_string(document: Mapping[str, Any], field: str) -> str:
    if field not in document:
        raise TokenDocumentError(
            f"the document has no {field}; add a version holding the JSON Momento's console "
            "downloads, which includes it"
        )
    value = document[field]
    if not isinstance(value, str):
        raise TokenDocumentError(
            f"{field} is JSON {_json_type(value)}, expected a string; {_ADD_A_GOOD_VERSION}"
        )
    if not value.strip():
        raise TokenDocumentError(f"{field} is empty; add a version with a complete token document")
    return value


def _optional_string(document: Mapping[str, Any], field: str) -> str:
    """The field's text; "" when it is absent, null or blank. Any other type is refused."""
    value = document.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TokenDocumentError(
            f"{field} is JSON {_json_type(value)}, expected a string; {_ADD_A_GOOD_VERSION}"
        )
    return value if value.strip() else ""


def _valid_until(document: Mapping[str, Any]) -> int | None:
    if VALID_UNTIL_FIELD not in document:
        return None
    value = document[VALID_UNTIL_FIELD]
    if isinstance(value, str):
        try:
            value = float(value.strip()) if value.strip() else None
        except ValueError:
            value = None
        if value is None:
            raise TokenDocumentError(
                f"{VALID_UNTIL_FIELD} is a string that is not a number of epoch seconds; "
                f"{_ADD_A_GOOD_VERSION}"
            )
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenDocumentError(
            f"{VALID_UNTIL_FIELD} is JSON {_json_type(value)}, expected epoch seconds "
            f"(a number or a numeric string); {_ADD_A_GOOD_VERSION}"
        )
    if value < 0:
        raise TokenDocumentError(
            f"{VALID_UNTIL_FIELD} is negative, expected epoch seconds; {_ADD_A_GOOD_VERSION}"
        )
    if value > MAX_EPOCH_SECONDS:
        raise TokenDocumentError(
            f"{VALID_UNTIL_FIELD} is beyond the year 9999, expected epoch seconds; "
            f"{_ADD_A_GOOD_VERSION}"
        )
    # Momento writes 0 for a key that never expires.
    return int(value) or None


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
