"""The token document: every form we read, and a rewrite that keeps what we don't own."""

from __future__ import annotations

import base64
import json

import pytest

from momento_key_common.errors import NotRefreshableError, TokenDocumentError
from momento_key_common.token import (
    KeyForm,
    RefreshedKey,
    parse_api_key,
    parse_document,
    render_refreshed,
)
from tests import keys

REFRESHED = RefreshedKey(
    jwt=keys.jwt(exp=2_100_000_000),
    refresh_token="new-refresh-token-0002",
    endpoint=keys.ENDPOINT,
    valid_until=2_100_000_000,
)


@pytest.mark.parametrize(
    ("key", "form", "endpoint"),
    [
        (keys.v1_key(exp=1_900_000_000), KeyForm.V1, keys.ENDPOINT),
        (keys.legacy_key(exp=1_900_000_000), KeyForm.LEGACY, keys.ENDPOINT),
        (keys.v2_key(exp=1_900_000_000), KeyForm.V2, None),
        (keys.v1_key(exp=1_900_000_000, t="g"), KeyForm.V2, keys.ENDPOINT),
    ],
    ids=["v1", "legacy", "v2-bare", "v2-wrapped"],
)
def test_key_forms_are_recognised(key: str, form: KeyForm, endpoint: str | None) -> None:
    parsed = parse_api_key(key)
    assert (parsed.form, parsed.endpoint, parsed.expires_at) == (form, endpoint, 1_900_000_000)


@pytest.mark.parametrize("field", ["apiKey", "authToken", "apiToken"])
def test_key_is_read_from_each_known_field(field: str) -> None:
    payload = json.dumps({field: keys.v1_key(exp=5), "refreshToken": "rt-000000001"}).encode()
    document = parse_document(payload)
    assert document.key_field == field
    assert document.expires_at == 5


@pytest.mark.parametrize(
    ("valid_until", "expected"),
    [
        (1_800_000_000, 1_800_000_000),
        ("1800000000", 1_800_000_000),
        (1.8e9, 1_800_000_000),
        (" 1800000000 ", 1_800_000_000),
        (0, None),
    ],
    ids=["number", "string", "float", "padded-string", "zero-never-expires"],
)
def test_valid_until_forms(valid_until: object, expected: int | None) -> None:
    assert parse_document(keys.document(validUntil=valid_until)).valid_until == expected


EXP = 1_800_000_000


@pytest.mark.parametrize(
    ("key_exp", "valid_until", "expires_at", "disagrees"),
    [
        (EXP, EXP, EXP, False),
        (EXP, None, EXP, False),
        # validUntil lies: the key's exp is what Momento enforces.
        (EXP, EXP + 86_400, EXP, True),
        (EXP, EXP - 86_400, EXP, True),
        (EXP, 0, EXP, True),
        (EXP, 0.5, EXP, True),
        (EXP, "0", EXP, True),
        # A key without exp: validUntil is all there is.
        (None, EXP, EXP, False),
        (None, 0, None, False),
        (None, None, None, False),
    ],
    ids=[
        "agree",
        "no-valid-until",
        "valid-until-later",
        "valid-until-earlier",
        "valid-until-zero",
        "valid-until-fraction",
        "valid-until-zero-string",
        "no-exp-uses-valid-until",
        "no-exp-zero-never-expires",
        "neither-never-expires",
    ],
)
def test_the_keys_own_exp_is_the_expiry(
    key_exp: int | None, valid_until: object, expires_at: int | None, disagrees: bool
) -> None:
    document = parse_document(
        keys.document(apiKey=keys.v1_key(exp=key_exp), validUntil=valid_until)
    )
    assert document.expires_at == expires_at
    assert (document.expiry_disagreement is not None) is disagrees


def test_a_disagreement_names_both_values_and_which_wins() -> None:
    document = parse_document(keys.document(apiKey=keys.v1_key(exp=EXP), validUntil=0))
    assert document.expiry_disagreement is not None
    assert "never expires" in document.expiry_disagreement
    assert f"exp {EXP}" in document.expiry_disagreement


@pytest.mark.parametrize("momento_valid_until", [None, 2_000_000_000], ids=["zero", "stale"])
def test_rewrite_stores_the_new_keys_exp_whatever_momento_says(
    momento_valid_until: int | None,
) -> None:
    answer = RefreshedKey(
        jwt=keys.jwt(exp=2_100_000_000),
        refresh_token="new-refresh-token-0002",
        endpoint=keys.ENDPOINT,
        valid_until=momento_valid_until,
    )
    rewritten = json.loads(render_refreshed(parse_document(keys.document()), answer))
    assert rewritten["validUntil"] == 2_100_000_000


def test_every_field_holding_the_key_is_rewritten() -> None:
    key = keys.v1_key(exp=EXP)
    stored = keys.document(apiKey=key, authToken=key, apiToken=key)
    document = parse_document(stored)
    assert document.key_fields == ("apiKey", "authToken", "apiToken")
    rewritten = json.loads(render_refreshed(document, REFRESHED))
    new_key = rewritten["apiKey"]
    assert new_key != key
    assert rewritten["authToken"] == rewritten["apiToken"] == new_key


def test_the_same_key_in_another_form_counts_as_the_same_key() -> None:
    jwt = keys.jwt(exp=EXP, cp=f"control.{keys.ENDPOINT}", c=f"cache.{keys.ENDPOINT}")
    v1 = base64.b64encode(json.dumps({"endpoint": keys.ENDPOINT, "api_key": jwt}).encode())
    document = parse_document(keys.document(apiKey=v1.decode(), authToken=jwt))
    assert document.key_fields == ("apiKey", "authToken")


def test_different_keys_under_two_fields_are_refused_before_any_refresh() -> None:
    payload = keys.document(apiKey=keys.v1_key(exp=EXP), authToken=keys.v1_key(exp=EXP + 1))
    with pytest.raises(TokenDocumentError, match="different keys under apiKey and authToken"):
        parse_document(payload)


def test_byte_order_mark_is_accepted() -> None:
    assert parse_document(b"\xef\xbb\xbf" + keys.document()).refresh_token


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON array, not an object"),
        (b'"just a string"', "JSON string"),
        (keys.document(apiKey=None), "no key: expected one of apiKey, authToken, apiToken"),
        (keys.document(apiKey="   "), "apiKey is empty"),
        (keys.document(apiKey=42), "apiKey is JSON number, expected a string"),
        (keys.document(refreshToken=["x"]), "refreshToken is JSON array"),
        (keys.document(validUntil="soon"), "validUntil is a string that is not a number"),
        (keys.document(validUntil=True), "validUntil is JSON boolean"),
        (keys.document(validUntil=-1), "validUntil is negative"),
        (keys.document(apiKey="not-a-key-at-all"), "neither a v1 Momento key nor a JWT"),
        (keys.document(apiKey="a.b.c"), "claims cannot be decoded"),
        (keys.document(apiKey=keys.jwt(exp=5)), "without the claims of a Momento key"),
        (b"{" + b" " * 70_000 + b"}", "more than the 65536"),
        (b'{"apiKey": 1' + b"0" * 5000 + b"}", "number with thousands of digits"),
        (keys.document(note="\ud800"), "lone surrogate"),
        (b'{"\\udfff": 1, "apiKey": "x"}', "lone surrogate"),
        (keys.document(extra=[{"deep": "\udc80"}]), "lone surrogate"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)
def test_malformed_documents_are_explained(payload: bytes, message: str) -> None:
    """What is wrong, then after "; " what to do: the reader relies on the second part."""
    with pytest.raises(TokenDocumentError, match=message) as caught:
        parse_document(payload)
    wrong, _, advice = caught.value.message.rpartition("; ")
    assert wrong and advice, "says what to do"


@pytest.mark.parametrize("with_refresh_token", [True, False])
def test_v2_key_is_refused_as_not_refreshable(with_refresh_token: bool) -> None:
    """v2 keys come without a refresh token; the message must say v2, not "add the token"."""
    payload = keys.document(
        apiKey=keys.v2_key(exp=1_900_000_000),
        refreshToken="rt-00000000001" if with_refresh_token else None,
    )
    with pytest.raises(NotRefreshableError, match="Momento cannot refresh v2 keys") as caught:
        parse_document(payload)
    assert caught.value.code == "v2_key_not_refreshable"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (keys.document(validUntil=10**12), "validUntil is beyond the year 9999"),
        (keys.document(apiKey=keys.v1_key(exp=10**13), validUntil=None), "exp claim is not"),
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
    ],
    ids=["valid-until-far-future", "exp-far-future", "deeply-nested"],
)
def test_implausible_documents_are_refused(payload: bytes, message: str) -> None:
    with pytest.raises(TokenDocumentError, match=message):
        parse_document(payload)


def test_error_messages_never_quote_the_payload() -> None:
    secret = "refresh-token-canary-that-must-not-leak"
    payloads = [
        keys.document(refreshToken=secret, apiKey=secret),
        b'{"apiKey": "' + secret.encode() + b'", broken',
        keys.document(refreshToken=secret, validUntil=secret),
    ]
    for payload in payloads:
        with pytest.raises(TokenDocumentError) as caught:
            parse_document(payload)
        assert secret not in str(caught.value)


def test_repr_hides_key_and_token() -> None:
    document = parse_document(keys.document())
    assert document.refresh_token not in repr(document)
    assert document.key.jwt not in repr(document)
    assert REFRESHED.refresh_token not in repr(REFRESHED)


def test_rewrite_keeps_field_names_types_and_unknown_fields() -> None:
    stored = {
        "authToken": keys.legacy_key(exp=1_800_000_000),
        "refreshToken": "old-refresh-token-01",
        "validUntil": "1800000000",
        "restrictions": {"cache": {"role": "readwrite"}},
        "note": "ünïcode stays",
    }
    document = parse_document(json.dumps(stored).encode())
    rewritten = json.loads(render_refreshed(document, REFRESHED))
    assert set(rewritten) == {*stored, "endpoint"}
    assert rewritten["refreshToken"] == "new-refresh-token-0002"
    assert rewritten["validUntil"] == "2100000000"
    assert rewritten["restrictions"] == stored["restrictions"]
    assert rewritten["note"] == "ünïcode stays"
    assert rewritten["endpoint"] == keys.ENDPOINT


def test_rewrite_keeps_numeric_valid_until_and_replaces_a_stale_endpoint() -> None:
    """Every field that describes the key describes the new one, the endpoint included."""
    document = parse_document(keys.document(endpoint="stale.endpoint"))
    rewritten = json.loads(render_refreshed(document, REFRESHED))
    assert rewritten["validUntil"] == 2_100_000_000
    assert rewritten["endpoint"] == keys.ENDPOINT


@pytest.mark.parametrize(
    "payload",
    [
        keys.document(refreshToken=None),
        keys.document(refreshToken=""),
        keys.document(refreshToken="   "),
        keys.document().replace(b'"refresh-token-canary-0001"', b"null"),
    ],
    ids=["absent", "empty", "blank", "null"],
)
def test_a_document_without_a_refresh_token_is_a_usable_key_that_cannot_be_refreshed(
    payload: bytes,
) -> None:
    """Momento may answer a refresh without a refresh token; the function stores that key, and
    later runs must still read it (and say it can't be refreshed), not call it malformed."""
    document = parse_document(payload)
    assert document.refresh_token == ""
    assert document.key.expires_at is not None


def test_new_key_is_written_in_v1_form() -> None:
    rewritten = json.loads(render_refreshed(parse_document(keys.document()), REFRESHED))
    inner = json.loads(base64.b64decode(rewritten["apiKey"]))
    assert inner == {"endpoint": keys.ENDPOINT, "api_key": REFRESHED.jwt}
    reparsed = parse_document(render_refreshed(parse_document(keys.document()), REFRESHED))
    assert (reparsed.key.form, reparsed.expires_at) == (KeyForm.V1, 2_100_000_000)


def test_values_that_json_must_escape_survive_the_rewrite() -> None:
    document = parse_document(keys.document(comment='quote " backslash \\ newline \n'))
    rewritten = json.loads(render_refreshed(document, REFRESHED))
    assert rewritten["comment"] == 'quote " backslash \\ newline \n'
