"""The published schema (schemas/momento-secret-document.schema.json) and the parser agree.

Applications in other languages parse against the schema; the function and the reader parse
with momento_key_common.token. A document one accepts and the other refuses would break one of
them after a rotation, so every case here is checked against both.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from momento_key_common.errors import TokenDocumentError
from momento_key_common.token import RefreshedKey, parse_document, render_refreshed
from tests import keys
from tests.document_schema import violations

KEY = keys.v1_key(exp=2_000_000_000)
REFRESHED = RefreshedKey(
    jwt=keys.jwt(exp=2_100_000_000),
    refresh_token="new-refresh-token-0002",
    endpoint=keys.ENDPOINT,
    valid_until=2_100_000_000,
)

ACCEPTED: dict[str, dict[str, Any]] = {
    "console download": {"apiKey": KEY, "refreshToken": "r-0001", "validUntil": 2_000_000_000},
    "aws lambda's fields": {
        "authToken": KEY,
        "refreshToken": "r-0001",
        "validUntil": 2_000_000_000,
        "endpoint": keys.ENDPOINT,
    },
    "both key names, one key": {"apiKey": KEY, "authToken": KEY, "refreshToken": "r-0001"},
    "apiToken": {"apiToken": KEY, "refreshToken": "r-0001"},
    "legacy key": {"apiKey": keys.legacy_key(exp=2_000_000_000), "refreshToken": "r-0001"},
    "validUntil as a string": {"apiKey": KEY, "refreshToken": "r", "validUntil": "2000000000"},
    "never expires": {"apiKey": KEY, "refreshToken": "r-0001", "validUntil": 0},
    "no refresh token": {"apiKey": KEY},
    "null refresh token": {"apiKey": KEY, "refreshToken": None},
    "fields we do not own": {"apiKey": KEY, "refreshToken": "r", "team": {"on-call": ["a"]}},
}

# Refused by both. (The parser checks more than a schema can say: that the key is a Momento key,
# that two key fields hold the same key; those are in test_token.py.)
REFUSED: dict[str, Any] = {
    "not an object": [KEY],
    "no key": {"refreshToken": "r-0001", "validUntil": 2_000_000_000},
    "key is a number": {"apiKey": 12345},
    "key is blank": {"apiKey": "   "},
    "refresh token is a number": {"apiKey": KEY, "refreshToken": 7},
    "validUntil negative": {"apiKey": KEY, "validUntil": -1},
    "validUntil beyond 9999": {"apiKey": KEY, "validUntil": 253_402_300_800},
    "validUntil a word": {"apiKey": KEY, "validUntil": "tomorrow"},
    "validUntil a boolean": {"apiKey": KEY, "validUntil": True},
}


@pytest.mark.parametrize("document", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_documents_the_function_reads_are_valid(document: dict[str, Any]) -> None:
    parse_document(json.dumps(document).encode())
    assert violations(document) == []


@pytest.mark.parametrize("document", REFUSED.values(), ids=REFUSED.keys())
def test_documents_the_function_refuses_are_invalid(document: Any) -> None:
    with pytest.raises(TokenDocumentError):
        parse_document(json.dumps(document).encode())
    assert violations(document) != []


@pytest.mark.parametrize("document", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_every_document_the_function_writes_is_valid(document: dict[str, Any]) -> None:
    written = json.loads(render_refreshed(parse_document(json.dumps(document).encode()), REFRESHED))
    assert violations(written) == []


def test_a_refresh_keeps_the_fields_the_schema_leaves_open() -> None:
    document = ACCEPTED["fields we do not own"]
    written = json.loads(render_refreshed(parse_document(json.dumps(document).encode()), REFRESHED))
    assert written["team"] == document["team"]
