"""One error taxonomy: every code is listed in the README with its meaning, and each owns
whether it is transient and the HTTP status a refused request is answered with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from momento_key_common.errors import ErrorCode, RequestError

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_codes() -> dict[str, str]:
    """code -> meaning, from the rows of the README's error code table."""
    after = README.read_text().split("\nError codes", 1)[1]
    table = after.split("\n\n", 2)[1]  # the paragraph after the heading line
    meanings: dict[str, str] = {}
    for row in table.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            for code in re.findall(r"`([a-z0-9_]+)`", cells[0]):
                meanings[code] = cells[1]
    return meanings


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_every_code_is_listed_in_the_readme_with_its_meaning(code):
    meanings = readme_codes()
    assert str(code) in meanings, f"README's error code table does not list {code}"
    assert len(meanings[str(code)]) > 10


def test_the_readme_lists_no_code_that_does_not_exist():
    assert set(readme_codes()) <= {str(code) for code in ErrorCode}


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (ErrorCode.INVALID_REQUEST, 400),
        (ErrorCode.INVALID_JSON, 400),
        (ErrorCode.UNKNOWN_FIELD, 400),
        (ErrorCode.INVALID_FIELD, 400),
        (ErrorCode.SECRET_NOT_CONFIGURED, 403),
        (ErrorCode.METHOD_NOT_ALLOWED, 405),
        (ErrorCode.BODY_TOO_LARGE, 413),
        (ErrorCode.UNSUPPORTED_CONTENT_TYPE, 415),
        (ErrorCode.NO_CREDENTIALS, 500),
        (ErrorCode.SECRET_MANAGER_UNAVAILABLE, 500),
        (ErrorCode.INTERNAL_ERROR, 500),
    ],
)
def test_a_code_owns_its_http_status(code, status):
    assert code.http_status == status
    assert RequestError("m", code=code).status == status


def test_only_the_requests_own_faults_are_4xx():
    four_hundreds = {code for code in ErrorCode if code.http_status < 500}
    assert four_hundreds == {
        ErrorCode.INVALID_REQUEST,
        ErrorCode.INVALID_JSON,
        ErrorCode.UNKNOWN_FIELD,
        ErrorCode.INVALID_FIELD,
        ErrorCode.SECRET_NOT_CONFIGURED,
        ErrorCode.METHOD_NOT_ALLOWED,
        ErrorCode.BODY_TOO_LARGE,
        ErrorCode.UNSUPPORTED_CONTENT_TYPE,
    }
