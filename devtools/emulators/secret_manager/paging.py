"""Pagination of the List RPCs: page sizes, and opaque page tokens that name a position.

ListSecrets and ListSecretVersions return newest first by create time; a token names the sort
key of the last item returned, not an offset, so items added between pages neither repeat nor
hide others. ListLocations pages by location id. Rows of the rule table (its sources and status
codes: see the package docstring):

| rule | source | test |
|---|---|---|
| page_size 0: the server decides (we pick 25000) | service.py List*Request.page_size | test_list_secret_versions_page_size_is_capped_at_25000[0] |
| page_size above 25000 is capped at 25000 | service.py List*Request.page_size | test_list_secret_versions_page_size_is_capped_at_25000, test_list_secrets_page_size_is_capped_at_25000 |
| negative page_size is INVALID_ARGUMENT (Secret Manager is silent) | AIP-158 | test_a_negative_page_size_is_invalid_argument |
| lists are sorted in reverse by create_time (newest first) | service.py ListSecretsResponse.secrets, ListSecretVersionsResponse.versions | test_list_secrets_is_newest_first_across_pages, test_versions_are_listed_by_create_time_newest_first |
| unknown: order among equal create times; we list the newest created first | (none) | test_equal_create_times_list_the_newest_created_first |
"""  # noqa: E501  (the rule table: one row per line reads best)

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from devtools.emulators.secret_manager.errors import invalid

MAX_PAGE_SIZE = 25000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

T = TypeVar("T")


def micros(when: datetime) -> int:
    """``when`` in whole microseconds since the epoch: the first half of a list's sort key."""
    return (when - _EPOCH) // timedelta(microseconds=1)


def page_size(requested: int) -> int:
    # Undocumented for Secret Manager; AIP-158 says a negative page size is INVALID_ARGUMENT.
    if requested < 0:
        raise invalid("page_size must not be negative")
    # Documented: 0 lets the server decide (we choose the cap); above 25000 is capped at 25000.
    return MAX_PAGE_SIZE if requested == 0 else min(requested, MAX_PAGE_SIZE)


def encode_location_token(last: str) -> str:
    return base64.urlsafe_b64encode(f"locations:{last}".encode()).decode()


def decode_location_token(token: str) -> str | None:
    """The last location id a ListLocations page returned, from its token."""
    if not token:
        return None
    try:
        kind, _, last = base64.urlsafe_b64decode(token).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise invalid("invalid page_token") from None
    if kind != "locations" or not last:
        raise invalid("invalid page_token")
    return last


def _encode_token(kind: str, cursor: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{cursor[0]}:{cursor[1]}".encode()).decode()


def decode_token(kind: str, token: str) -> tuple[int, int] | None:
    """The sort key of the last item returned in ``token``; tokens name a position, not an
    offset, so items added between pages neither repeat nor hide others."""
    if not token:
        return None
    try:
        found_kind, first, second = base64.urlsafe_b64decode(token).decode().split(":")
        cursor = (int(first), int(second))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid("invalid page_token") from None
    if found_kind != kind:
        raise invalid("invalid page_token")
    return cursor


def newest_first_page(
    items: Iterable[T],
    key: Callable[[T], tuple[int, int]],
    *,
    after: tuple[int, int] | None,
    page_size: int,
    kind: str,
) -> tuple[list[T], str]:
    ordered = sorted(items, key=key, reverse=True)
    if after is not None:
        ordered = [item for item in ordered if key(item) < after]
    page, rest = ordered[:page_size], ordered[page_size:]
    return page, (_encode_token(kind, key(page[-1])) if rest and page else "")
