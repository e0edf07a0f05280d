"""The request body: optional, strict, and never able to widen what is rotated."""

from __future__ import annotations

import io
import json

import pytest

from momento_key_common.errors import ErrorCode, RequestError
from rotation.faces.http import MAX_BODY_BYTES, parse_request, read_body
from rotation.rules.config import load_config

CONFIG = load_config(
    {"ROTATION_SECRETS": "a,b,projects/other/secrets/c", "GOOGLE_CLOUD_PROJECT": "p"}
)
ALL = ("projects/p/secrets/a", "projects/p/secrets/b", "projects/other/secrets/c")
JSON = "application/json"
DIGITS_5000 = b"9" * 5000


def parse(body: object, content_type: str | None = JSON):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_request(raw, content_type, CONFIG)


@pytest.mark.parametrize("body", [b"", b"  \n", {}], ids=["empty", "blank", "empty-object"])
def test_no_fields_means_every_configured_secret(body: object) -> None:
    request = parse(body, content_type=None)
    assert (request.secrets, request.force, request.dry_run) == (ALL, False, False)


def test_secrets_narrow_the_run_in_short_or_full_form() -> None:
    request = parse({"secrets": ["b", "projects/other/secrets/c"], "force": True, "dry_run": True})
    assert request.secrets == ("projects/p/secrets/b", "projects/other/secrets/c")
    assert (request.force, request.dry_run) == (True, True)


def test_configured_dry_run_cannot_be_turned_off_by_a_request() -> None:
    config = load_config({"ROTATION_SECRETS": "a", "GOOGLE_CLOUD_PROJECT": "p", "DRY_RUN": "true"})
    assert parse_request(b'{"dry_run": false}', JSON, config).dry_run is True


def test_whitespace_around_a_secret_name_is_ignored() -> None:
    assert parse({"secrets": [" a\n"]}).secrets == ("projects/p/secrets/a",)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "message"),
    [
        pytest.param(
            {"secrets": ["zzz"]},
            JSON,
            403,
            ErrorCode.SECRET_NOT_CONFIGURED,
            "'zzz' is not configured",
            id="not-configured",
        ),
        pytest.param(
            {"secrets": ["projects/p/secrets/../a"]},
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            r"field secrets\[0\]: .* is not a secret name",
            id="path-trick",
        ),
        pytest.param(
            {"secrets": ["projects/evil/secrets/a"]},
            JSON,
            403,
            ErrorCode.SECRET_NOT_CONFIGURED,
            "not configured",
            id="other-project",
        ),
        pytest.param(
            {"secrets": ["a\nb"]},
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            r"field secrets\[0\]: .* is not a secret name",
            id="newline-inside-name",
        ),
        pytest.param(
            {"secrets": "a"},
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field secrets must be a list",
            id="secrets-not-list",
        ),
        pytest.param(
            {"secrets": [1]},
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            r"field secrets\[0\] must be a string",
            id="secret-not-string",
        ),
        pytest.param(
            {"secrets": []},
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field secrets is an empty list",
            id="secrets-empty",
        ),
        pytest.param(
            {"force": "yes"},
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field force must be true or false",
            id="force-type",
        ),
        pytest.param(
            {"dry_run": 1},
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field dry_run must be true or false",
            id="dry-run-type",
        ),
        pytest.param(
            {"forse": True},
            JSON,
            400,
            ErrorCode.UNKNOWN_FIELD,
            "unknown field 'forse'",
            id="unknown-field",
        ),
        pytest.param(b"{oops", JSON, 400, ErrorCode.INVALID_JSON, "not JSON", id="not-json"),
        pytest.param(b"\xff\xfe", JSON, 400, ErrorCode.INVALID_JSON, "not JSON", id="not-utf8"),
        pytest.param(
            [1, 2], JSON, 400, ErrorCode.INVALID_JSON, "must be a JSON object", id="not-object"
        ),
        pytest.param(
            b"[" * 5000 + b"]" * 5000,
            JSON,
            400,
            ErrorCode.INVALID_JSON,
            "not JSON",
            id="deeply-nested",
        ),
        pytest.param(
            {},
            "text/plain",
            415,
            ErrorCode.UNSUPPORTED_CONTENT_TYPE,
            "'text/plain' is not supported",
            id="content-type",
        ),
        pytest.param(
            b"{" + b" " * MAX_BODY_BYTES + b"}",
            JSON,
            413,
            ErrorCode.BODY_TOO_LARGE,
            f"larger than {MAX_BODY_BYTES} bytes",
            id="too-large",
        ),
        # Numbers Python reads past the int string limit (ValueError, not JSONDecodeError).
        pytest.param(
            b'{"force": ' + DIGITS_5000 + b"}",
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field force must be true or false, not a number 5000 characters long",
            id="5000-digit-force",
        ),
        pytest.param(
            b'{"dry_run": -' + DIGITS_5000 + b"}",
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field dry_run must be true or false, not a number 5001",
            id="5000-digit-negative",
        ),
        pytest.param(
            b'{"secrets": [' + DIGITS_5000 + b"]}",
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            r"field secrets\[0\] must be a string, not a number 5000",
            id="5000-digit-in-secrets",
        ),
        pytest.param(
            b'{"zzz": ' + DIGITS_5000 + b"}",
            JSON,
            400,
            ErrorCode.UNKNOWN_FIELD,
            "unknown field 'zzz'",
            id="5000-digit-unknown-field",
        ),
        pytest.param(
            DIGITS_5000,
            JSON,
            400,
            ErrorCode.INVALID_JSON,
            "must be a JSON object.*5000 characters",
            id="5000-digit-body",
        ),
        pytest.param(
            b'{"force": 1' + b"0" * 5000 + b".5}",
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field force must be true or false, not a number",
            id="5000-digit-float",
        ),
        # Non-finite numbers, which Python's json accepts and JSON does not have.
        pytest.param(
            b'{"force": NaN}',
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field force must be true or false, not NaN, which is not JSON",
            id="nan",
        ),
        pytest.param(
            b'{"dry_run": Infinity}',
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field dry_run must be .*, not Infinity",
            id="infinity",
        ),
        pytest.param(
            b'{"secrets": [-Infinity]}',
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            r"field secrets\[0\] must be a string, not -Infinity",
            id="minus-infinity",
        ),
        pytest.param(
            b'{"force": 1e999}',
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field force must be .*, not a number too large to represent",
            id="float-overflow",
        ),
        pytest.param(
            b"NaN",
            JSON,
            400,
            ErrorCode.INVALID_JSON,
            "must be a JSON object.*not NaN",
            id="nan-body",
        ),
        # Lone surrogates: valid JSON escapes that are not text.
        pytest.param(
            b'{"secrets": ["\\ud800"]}',
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            r"field secrets\[0\] has an unpaired surrogate",
            id="lone-surrogate-secret",
        ),
        pytest.param(
            b'{"secrets": ["a", "b\\udcff"]}',
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            r"field secrets\[1\] has an unpaired surrogate",
            id="lone-surrogate-second-secret",
        ),
        pytest.param(
            b'{"\\ud800": true}',
            JSON,
            400,
            ErrorCode.INVALID_JSON,
            r"a field name in the request body, 'eda080...', has an unpaired surrogate",
            id="lone-surrogate-field-name",
        ),
        pytest.param(
            b'{"force": "\\ud800"}',
            JSON,
            400,
            ErrorCode.INVALID_FIELD,
            "field force must be true or false",
            id="lone-surrogate-value",
        ),
        # Duplicate names: refused, not last-wins, at any depth.
        pytest.param(
            b'{"force": true, "force": false}',
            JSON,
            400,
            ErrorCode.INVALID_JSON,
            "field 'force' appears more than once",
            id="duplicate-field",
        ),
        pytest.param(
            b'{"secrets": ["a"], "dry_run": true, "secrets": ["b"]}',
            JSON,
            400,
            ErrorCode.INVALID_JSON,
            "field 'secrets' appears more than once",
            id="duplicate-apart",
        ),
        pytest.param(
            b'{"zzz": {"x": 1, "x": 2}}',
            JSON,
            400,
            ErrorCode.INVALID_JSON,
            "field 'x' appears more than once",
            id="duplicate-nested",
        ),
    ],
)
def test_bad_requests_are_refused_with_the_field_named(
    body: object, content_type: str, status: int, code: ErrorCode, message: str
) -> None:
    with pytest.raises(RequestError, match=message) as caught:
        parse(body, content_type)
    assert (caught.value.status, caught.value.code) == (status, code)
    caught.value.message.encode("ascii")  # short, printable, no surrogate ever echoed


class Counted(io.BytesIO):
    """A stream that records how many bytes were asked of it, in reads of at most ``chunk``."""

    def __init__(self, data: bytes, chunk: int = 1000) -> None:
        super().__init__(data)
        self.chunk = chunk
        self.served = 0

    def read(self, size: int | None = -1, /) -> bytes:
        limit = self.chunk if size is None or size < 0 else min(size, self.chunk)
        data = super().read(limit)
        self.served += len(data)
        return data


@pytest.mark.parametrize(
    ("data", "content_length", "expected", "most_read"),
    [
        pytest.param(b"", None, b"", 0, id="empty-chunked"),
        pytest.param(b"", 0, b"", 0, id="empty-declared"),
        pytest.param(b'{"force": true}', 15, b'{"force": true}', 15, id="declared"),
        pytest.param(b'{"force": true}', None, b'{"force": true}', 15, id="chunked"),
        pytest.param(
            b"x" * MAX_BODY_BYTES,
            None,
            b"x" * MAX_BODY_BYTES,
            MAX_BODY_BYTES,
            id="chunked-at-limit",
        ),
        pytest.param(
            b"x" * MAX_BODY_BYTES,
            MAX_BODY_BYTES,
            b"x" * MAX_BODY_BYTES,
            MAX_BODY_BYTES,
            id="declared-at-limit",
        ),
        pytest.param(b'{"a": 1}trailing', 8, b'{"a": 1}', 8, id="never-past-content-length"),
    ],
)
def test_read_body_reads_what_is_declared(
    data: bytes, content_length: int | None, expected: bytes, most_read: int
) -> None:
    stream = Counted(data)
    assert read_body(stream, content_length) == expected
    assert stream.served == most_read


@pytest.mark.parametrize(
    ("size", "content_length", "most_read"),
    [
        pytest.param(MAX_BODY_BYTES + 1, MAX_BODY_BYTES + 1, 0, id="declared-one-over"),
        pytest.param(10 * MAX_BODY_BYTES, 300 * 1024 * 1024, 0, id="declared-300-mb"),
        pytest.param(MAX_BODY_BYTES + 1, None, MAX_BODY_BYTES + 1, id="chunked-one-over"),
        pytest.param(10 * MAX_BODY_BYTES, None, MAX_BODY_BYTES + 1, id="chunked-large"),
    ],
)
def test_read_body_refuses_a_large_body_while_reading(
    size: int, content_length: int | None, most_read: int
) -> None:
    stream = Counted(b"x" * size)
    with pytest.raises(RequestError, match=f"larger than {MAX_BODY_BYTES} bytes") as caught:
        read_body(stream, content_length)
    assert (caught.value.status, caught.value.code) == (413, ErrorCode.BODY_TOO_LARGE)
    assert stream.served <= most_read


def test_read_body_reports_a_broken_connection() -> None:
    class Broken(io.RawIOBase):
        def read(self, size: int = -1, /) -> bytes:
            raise ConnectionResetError("peer reset")

    with pytest.raises(RequestError, match="could not be read") as caught:
        read_body(Broken(), None)
    assert (caught.value.status, caught.value.code) == (400, ErrorCode.INVALID_REQUEST)


def test_a_long_secret_name_that_is_not_configured_is_named_not_hexed() -> None:
    """A 403 must say which secret it means: printable names are shown as they are."""
    name = "momento-" + "x" * 200
    with pytest.raises(RequestError) as caught:
        parse({"secrets": [name]})
    assert caught.value.status == 403
    assert name in caught.value.message
