"""Specification of the Secret Manager emulator, driven through the real client library.

Every RPC test talks gRPC to the emulator with the production ``SecretManagerServiceClient``,
so a passing test also shows the client accepts what the emulator sends back. The test hooks
(``create_secret``, ``add_version``, ...) are used only to seed and inspect state.
"""

from __future__ import annotations

import re
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import google_crc32c
import grpc
import pytest
from google.api_core import exceptions
from google.cloud.secretmanager_v1 import SecretManagerServiceClient
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)
from google.protobuf import duration_pb2

from devtools.emulators.secret_manager import (
    MAX_PAYLOAD_BYTES,
    EmulatorError,
    SecretManagerEmulator,
    project_number,
)

PROJECT = "demo-project"
NUMBER = "123456789012"
SECRET = f"projects/{PROJECT}/secrets/momento-key"
CANONICAL = f"projects/{NUMBER}/secrets/momento-key"
REPO_ROOT = Path(__file__).resolve().parents[2]


def utc(month: int, day: int = 1) -> datetime:
    return datetime(2024, month, day, tzinfo=UTC)


def connect(address: str) -> tuple[SecretManagerServiceClient, grpc.Channel]:
    channel = grpc.insecure_channel(address)
    transport = SecretManagerServiceGrpcTransport(channel=channel)
    return SecretManagerServiceClient(transport=transport), channel


# Tests of other rules write to one secret or version several times within a second, which the
# documented write rate limits refuse; those limits have tests of their own (see "rate limits").
@pytest.fixture
def emulator():
    with SecretManagerEmulator(project_numbers={PROJECT: NUMBER}, rate_limits=False) as emu:
        yield emu


@pytest.fixture
def client(emulator):
    sm_client, channel = connect(emulator.address)
    yield sm_client
    channel.close()


@pytest.fixture
def secret(emulator):
    """An empty secret, by its canonical (project number) name."""
    return emulator.create_secret(SECRET)


def add(client, data=b"payload", parent=SECRET):
    return client.add_secret_version(parent=parent, payload={"data": data})


def number_of(name):
    return int(name.rsplit("/", 1)[1])


def version_numbers(versions):
    return [number_of(v.name) for v in versions]


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("project", "number"),
    [
        pytest.param(PROJECT, NUMBER, id="mapped-id"),
        pytest.param(NUMBER, NUMBER, id="number"),
        pytest.param("unmapped-project", project_number("unmapped-project"), id="derived-number"),
    ],
)
def test_every_returned_name_uses_the_project_number(client, project, number):
    parent = f"projects/{project}/secrets/s"
    expected = f"projects/{number}/secrets/s"

    created = client.create_secret(parent=f"projects/{project}", secret_id="s", secret={})
    added = add(client, parent=parent)
    accessed = client.access_secret_version(name=f"{parent}/versions/latest")
    listed_versions = list(client.list_secret_versions(parent=parent))
    listed_secrets = list(client.list_secrets(parent=f"projects/{project}"))

    assert created.name == expected
    assert added.name == f"{expected}/versions/1"
    assert accessed.name == f"{expected}/versions/1"
    assert [v.name for v in listed_versions] == [f"{expected}/versions/1"]
    assert [s.name for s in listed_secrets] == [expected]


def test_project_id_and_number_name_the_same_secret(client, secret):
    add(client, b"via id", parent=SECRET)

    accessed = client.access_secret_version(name=f"{CANONICAL}/versions/1")

    assert accessed.payload.data == b"via id"


def test_unmapped_project_ids_get_a_stable_twelve_digit_number():
    """Derived from a hash of the id, so every process and run agrees on it."""
    assert project_number("demo-project") == "510835001129"
    assert project_number("other-project") != project_number("demo-project")
    assert re.fullmatch(r"[1-9]\d{11}", project_number("other-project"))


@pytest.mark.parametrize(
    ("secret_id", "valid"),
    [
        pytest.param("x" * 255, True, id="255-chars"),
        pytest.param("Aa-0_z", True, id="letters-numerals-hyphen-underscore"),
        pytest.param("x" * 256, False, id="256-chars"),
        pytest.param("", False, id="empty"),
        pytest.param("has space", False, id="space"),
        pytest.param("dotted.name", False, id="dot"),
        pytest.param("slash/name", False, id="slash"),
    ],
)
def test_secret_ids_are_up_to_255_letters_numerals_hyphens_underscores(client, secret_id, valid):
    def create():
        return client.create_secret(parent=f"projects/{PROJECT}", secret_id=secret_id, secret={})

    if valid:
        assert create().name == f"projects/{NUMBER}/secrets/{secret_id}"
    else:
        with pytest.raises(exceptions.InvalidArgument):
            create()


def test_creating_an_existing_secret_is_already_exists(client, secret):
    with pytest.raises(exceptions.AlreadyExists, match=CANONICAL):
        client.create_secret(parent=f"projects/{NUMBER}", secret_id="momento-key", secret={})


# --- secrets ----------------------------------------------------------------------------------


def test_create_secret_keeps_what_was_sent_and_defaults_to_automatic_replication(client):
    created = client.create_secret(
        parent=f"projects/{PROJECT}",
        secret_id="s",
        secret={"labels": {"team": "cache"}, "annotations": {"note": "hi"}},
    )

    assert dict(created.labels) == {"team": "cache"}
    assert dict(created.annotations) == {"note": "hi"}
    assert "automatic" in created.replication
    assert re.fullmatch(r'"[0-9a-f]+"', created.etag)


def test_create_secret_keeps_user_managed_replication(client):
    replication = {"user_managed": {"replicas": [{"location": "europe-west1"}]}}

    created = client.create_secret(
        parent=f"projects/{PROJECT}", secret_id="s", secret={"replication": replication}
    )

    assert [r.location for r in created.replication.user_managed.replicas] == ["europe-west1"]


def test_create_time_comes_from_the_clock():
    with SecretManagerEmulator(clock=lambda: utc(5, 17)) as emu:
        sm_client, channel = connect(emu.address)
        created = sm_client.create_secret(parent="projects/p", secret_id="s", secret={})
        added = add(sm_client, parent="projects/p/secrets/s")
        channel.close()

    assert created.create_time == utc(5, 17)
    assert added.create_time == utc(5, 17)


def test_update_secret_changes_only_the_masked_fields(client, emulator):
    emulator.create_secret(SECRET, annotations={"keep": "me"})

    updated = client.update_secret(
        secret={"name": SECRET, "labels": {"env": "prod"}, "annotations": {"ignored": "x"}},
        update_mask={"paths": ["labels"]},
    )

    assert dict(updated.labels) == {"env": "prod"}
    assert dict(updated.annotations) == {"keep": "me"}


def test_update_secret_replaces_the_whole_annotation_map(client, emulator):
    emulator.create_secret(SECRET, annotations={"old": "1"})

    client.update_secret(
        secret={"name": SECRET, "annotations": {"new": "2"}},
        update_mask={"paths": ["annotations"]},
    )

    assert emulator.annotations(SECRET) == {"new": "2"}


def test_update_secret_changes_the_etag(client, secret):
    before = client.get_secret(name=secret).etag

    after = client.update_secret(
        secret={"name": secret, "annotations": {"a": "1"}}, update_mask={"paths": ["annotations"]}
    ).etag

    assert after != before
    assert client.get_secret(name=secret).etag == after


def test_update_secret_with_the_current_etag_succeeds(client, secret):
    etag = client.get_secret(name=secret).etag

    client.update_secret(
        secret={"name": secret, "etag": etag, "annotations": {"lease": "me"}},
        update_mask={"paths": ["annotations"]},
    )

    assert client.get_secret(name=secret).annotations["lease"] == "me"


def test_update_secret_with_a_stale_etag_is_failed_precondition(client, emulator, secret):
    stale = client.get_secret(name=secret).etag
    client.update_secret(
        secret={"name": secret, "annotations": {"lease": "first"}},
        update_mask={"paths": ["annotations"]},
    )

    with pytest.raises(exceptions.FailedPrecondition):
        client.update_secret(
            secret={"name": secret, "etag": stale, "annotations": {"lease": "second"}},
            update_mask={"paths": ["annotations"]},
        )
    assert emulator.annotations(secret) == {"lease": "first"}


def test_concurrent_compare_and_swap_has_exactly_one_winner(client, emulator, secret):
    """20 workers race to take a lease from the same starting etag: only one may get it."""
    etag = client.get_secret(name=secret).etag
    start = threading.Barrier(20)

    def take_lease(worker):
        start.wait()
        try:
            client.update_secret(
                secret={"name": secret, "etag": etag, "annotations": {"lease": f"w{worker}"}},
                update_mask={"paths": ["annotations"]},
            )
        except exceptions.FailedPrecondition:
            return None
        return worker

    with ThreadPoolExecutor(max_workers=20) as pool:
        winners = [w for w in pool.map(take_lease, range(20)) if w is not None]

    assert len(winners) == 1
    assert emulator.annotations(secret) == {"lease": f"w{winners[0]}"}


def test_deleted_secret_is_gone(client, secret):
    client.delete_secret(name=secret)

    with pytest.raises(exceptions.NotFound):
        client.get_secret(name=secret)


def test_delete_secret_with_a_stale_etag_is_failed_precondition(client, secret):
    with pytest.raises(exceptions.FailedPrecondition):
        client.delete_secret(request={"name": secret, "etag": '"stale"'})
    assert client.get_secret(name=secret).name == secret


def test_list_secrets_is_newest_first_across_pages():
    """ListSecretsResponse.secrets: "sorted in reverse by create_time (newest first)"."""
    times = iter([utc(3), utc(1), utc(5), utc(2), utc(4)])
    with SecretManagerEmulator(clock=lambda: next(times)) as emu:
        for secret_id in ["c", "a", "e", "b", "d"]:
            emu.create_secret(f"projects/p/secrets/{secret_id}")
        sm_client, channel = connect(emu.address)
        pager = sm_client.list_secrets(request={"parent": "projects/p", "page_size": 2})
        listed = [s.name.rsplit("/", 1)[1] for s in pager]
        channel.close()

    assert listed == ["e", "d", "c", "b", "a"]


def test_list_secrets_pages_are_at_most_page_size(client, emulator):
    for secret_id in ["a", "b", "c", "d", "e"]:
        emulator.create_secret(f"projects/{PROJECT}/secrets/{secret_id}")

    pages = client.list_secrets(request={"parent": f"projects/{PROJECT}", "page_size": 2}).pages

    assert [len(page.secrets) for page in pages] == [2, 2, 1]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        pytest.param("labels.rotate:*", ["b", "a"], id="label-present"),
        pytest.param("labels.rotate:yes", ["a"], id="label-value"),
        pytest.param("name:b", ["b"], id="name"),
        pytest.param("NOT labels.rotate:*", ["c"], id="not"),
    ],
)
def test_list_secrets_filters_on_name_and_labels(client, filter_, expected):
    for secret_id, labels in [("a", {"rotate": "yes"}), ("b", {"rotate": "no"}), ("c", {})]:
        client.create_secret(
            parent=f"projects/{PROJECT}", secret_id=secret_id, secret={"labels": labels}
        )

    listed = client.list_secrets(request={"parent": f"projects/{PROJECT}", "filter": filter_})

    assert [s.name.rsplit("/", 1)[1] for s in listed] == expected


# --- versions ---------------------------------------------------------------------------------


def test_versions_are_numbered_from_one_and_never_reused(client, secret):
    numbers = [number_of(add(client).name) for _ in range(3)]
    client.destroy_secret_version(name=f"{SECRET}/versions/3")

    next_version = add(client)

    assert numbers == [1, 2, 3]
    assert next_version.name == f"{CANONICAL}/versions/4"


def test_concurrent_adds_get_distinct_consecutive_numbers(client, secret):
    with ThreadPoolExecutor(max_workers=20) as pool:
        names = list(pool.map(lambda i: add(client, str(i).encode()).name, range(20)))

    assert sorted(number_of(name) for name in names) == list(range(1, 21))


def test_new_versions_are_enabled(client, secret):
    added = add(client)

    assert added.state.name == "ENABLED"
    assert re.fullmatch(r'"[0-9a-f]+"', added.etag)


def test_access_returns_concrete_name_payload_and_checksum(client, secret):
    add(client, b"old")
    add(client, b"new")

    accessed = client.access_secret_version(name=f"{SECRET}/versions/latest")

    assert accessed.name == f"{CANONICAL}/versions/2"
    assert accessed.payload.data == b"new"
    assert accessed.payload.data_crc32c == google_crc32c.value(b"new")


def test_latest_is_the_newest_version_whatever_its_state(client, emulator, secret):
    emulator.add_version(secret, b"enabled")
    emulator.add_version(secret, b"disabled", state="DISABLED")

    latest = client.get_secret_version(name=f"{SECRET}/versions/latest")

    assert latest.name == f"{CANONICAL}/versions/2"
    assert latest.state.name == "DISABLED"
    with pytest.raises(exceptions.FailedPrecondition, match="versions/2"):
        client.access_secret_version(name=f"{SECRET}/versions/latest")


def destroy_scheduled_by_rpc(emulator, sm_client):
    emulator.set_version_destroy_ttl(SECRET, timedelta(days=7))
    add(sm_client)
    sm_client.destroy_secret_version(name=f"{SECRET}/versions/1")


@pytest.mark.parametrize(
    ("seed", "state"),
    [
        pytest.param(
            lambda emu, _: emu.add_version(SECRET, b"x", state="DISABLED"),
            "DISABLED",
            id="disabled",
        ),
        pytest.param(
            lambda emu, _: emu.add_version(SECRET, b"x", state="DESTROYED"),
            "DESTROYED",
            id="destroyed",
        ),
        pytest.param(
            lambda _, c: (add(c), c.destroy_secret_version(name=f"{SECRET}/versions/1")),
            "DESTROYED",
            id="destroyed-by-rpc",
        ),
        pytest.param(destroy_scheduled_by_rpc, "DISABLED", id="scheduled-for-destruction"),
    ],
)
def test_accessing_a_version_that_is_not_enabled_is_failed_precondition(
    client, emulator, secret, seed, state
):
    """The message is the one observed upstream for a DESTROYED version ("Secret Version [NAME]
    is in DESTROYED state.", google-github-actions/get-secretmanager-secrets#268), for every
    state; a version scheduled for destruction is DISABLED."""
    seed(emulator, client)

    with pytest.raises(exceptions.FailedPrecondition) as raised:
        client.access_secret_version(name=f"{SECRET}/versions/1")
    assert raised.value.message == f"Secret Version [{CANONICAL}/versions/1] is in {state} state."


def test_version_aliases_resolve(client, emulator, secret):
    emulator.add_version(secret, b"one")
    emulator.add_version(secret, b"two")
    client.update_secret(
        secret={"name": secret, "version_aliases": {"stable": 1}},
        update_mask={"paths": ["version_aliases"]},
    )

    accessed = client.access_secret_version(name=f"{SECRET}/versions/stable")

    assert accessed.name == f"{CANONICAL}/versions/1"


MISSING = f"projects/{PROJECT}/secrets/missing"


@pytest.mark.parametrize(
    ("call", "resource"),
    [
        pytest.param(lambda c: c.get_secret(name=MISSING), "secrets/missing", id="get-secret"),
        pytest.param(
            lambda c: add(c, parent=MISSING), "secrets/missing", id="add-version-to-missing"
        ),
        pytest.param(
            lambda c: c.access_secret_version(name=f"{MISSING}/versions/1"),
            "secrets/missing",
            id="access-in-missing-secret",
        ),
        pytest.param(
            lambda c: c.access_secret_version(name=f"{SECRET}/versions/9"),
            "momento-key/versions/9",
            id="access-missing-version",
        ),
        pytest.param(
            lambda c: c.access_secret_version(name=f"{SECRET}/versions/latest"),
            "secrets/momento-key",
            id="latest-without-versions",
        ),
        pytest.param(
            lambda c: c.disable_secret_version(name=f"{SECRET}/versions/9"),
            "momento-key/versions/9",
            id="disable-missing-version",
        ),
        pytest.param(
            lambda c: c.list_secret_versions(parent=MISSING), "secrets/missing", id="list-versions"
        ),
    ],
)
def test_missing_resources_are_not_found_and_named(client, secret, call, resource):
    with pytest.raises(exceptions.NotFound) as raised:
        call(client)

    assert f"projects/{NUMBER}/" in raised.value.message
    assert resource in raised.value.message


def test_wrong_crc32c_is_rejected_and_adds_nothing(client, emulator, secret):
    with pytest.raises(exceptions.InvalidArgument, match="Checksum mismatch"):
        client.add_secret_version(
            parent=SECRET,
            payload={"data": b"payload", "data_crc32c": google_crc32c.value(b"other")},
        )

    assert emulator.version_states(secret) == {}


def test_correct_crc32c_is_accepted_and_recorded(client, secret):
    added = client.add_secret_version(
        parent=SECRET, payload={"data": b"payload", "data_crc32c": google_crc32c.value(b"payload")}
    )

    assert added.client_specified_payload_checksum is True


@pytest.mark.parametrize(
    ("size", "accepted"),
    [pytest.param(65536, True, id="64KiB"), pytest.param(65537, False, id="64KiB+1")],
)
def test_payloads_up_to_64_kib_are_accepted(client, secret, size, accepted):
    if accepted:
        add(client, b"x" * size)
    else:
        with pytest.raises(exceptions.InvalidArgument):
            add(client, b"x" * size)


# --- version state and etags --------------------------------------------------------------------


def test_each_state_change_gives_a_new_etag(client, secret):
    name = f"{SECRET}/versions/1"
    etags = [add(client).etag]
    etags.append(client.disable_secret_version(name=name).etag)
    etags.append(client.enable_secret_version(name=name).etag)
    etags.append(client.destroy_secret_version(name=name).etag)

    assert len(set(etags)) == 4


def test_state_change_with_the_current_etag_succeeds(client, secret):
    etag = add(client).etag

    disabled = client.disable_secret_version(request={"name": f"{SECRET}/versions/1", "etag": etag})

    assert disabled.state.name == "DISABLED"


@pytest.mark.parametrize("method", ["disable", "enable", "destroy"])
def test_state_change_with_a_stale_etag_is_failed_precondition(client, emulator, secret, method):
    stale = add(client).etag
    client.disable_secret_version(name=f"{SECRET}/versions/1")
    change = getattr(client, f"{method}_secret_version")

    with pytest.raises(exceptions.FailedPrecondition):
        change(request={"name": f"{SECRET}/versions/1", "etag": stale})
    assert emulator.version_states(secret) == {1: "DISABLED"}


@pytest.mark.parametrize("method", ["disable", "enable", "destroy"])
def test_destroyed_versions_cannot_change_state(client, emulator, secret, method):
    """Documented: DESTROYED is final. The status code, and destroying again, are not; we
    answer FAILED_PRECONDITION for all three."""
    emulator.add_version(secret, b"x", state="DESTROYED")

    with pytest.raises(exceptions.FailedPrecondition, match="DESTROYED"):
        getattr(client, f"{method}_secret_version")(name=f"{SECRET}/versions/1")


def test_destroy_clears_the_payload_and_sets_destroy_time(timed):
    """Without a version_destroy_ttl a destroy is immediate; only DESTROYED versions carry
    destroy_time (resources.py SecretVersion.destroy_time), none scheduled_destroy_time."""
    emulator, sm_client = timed
    emulator.create_secret(SECRET)
    add(sm_client, b"secret")
    add(sm_client, b"kept")

    destroyed = sm_client.destroy_secret_version(name=f"{SECRET}/versions/1")
    disabled = sm_client.disable_secret_version(name=f"{SECRET}/versions/2")

    assert destroyed.state.name == "DESTROYED"
    assert destroyed.destroy_time == NOW
    assert sm_client.get_secret_version(name=f"{SECRET}/versions/1").destroy_time == NOW
    assert emulator.payload(SECRET, 1) is None
    assert "scheduled_destroy_time" not in destroyed
    assert "destroy_time" not in disabled
    assert emulator.payload(SECRET, 2) == b"kept"


def test_disabled_versions_can_be_enabled_again(client, secret):
    add(client, b"back")
    client.disable_secret_version(name=f"{SECRET}/versions/1")

    client.enable_secret_version(name=f"{SECRET}/versions/1")

    assert client.access_secret_version(name=f"{SECRET}/versions/1").payload.data == b"back"


# --- listing versions ------------------------------------------------------------------------


def test_versions_are_listed_newest_first(client, secret):
    for _ in range(4):
        add(client)

    listed = client.list_secret_versions(parent=SECRET)

    assert version_numbers(listed) == [4, 3, 2, 1]


def test_versions_are_listed_by_create_time_newest_first(client, emulator, secret):
    """ListSecretVersionsResponse.versions: "sorted in reverse by create_time (newest first)",
    also across pages, even when seeded create times disagree with version numbers."""
    for month in [2, 4, 1, 3]:
        emulator.add_version(secret, b"x", create_time=utc(month))

    listed = client.list_secret_versions(request={"parent": SECRET, "page_size": 1})

    assert version_numbers(listed) == [2, 4, 1, 3]


@pytest.fixture
def seeded(emulator, secret):
    """v1 Jan ENABLED, v2 Feb DISABLED, v3 Mar DESTROYED, v4 Apr ENABLED (all 2024, UTC)."""
    for month, state in [(1, "ENABLED"), (2, "DISABLED"), (3, "DESTROYED"), (4, "ENABLED")]:
        emulator.add_version(secret, b"x", create_time=utc(month), state=state)
    return secret


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        pytest.param("", [4, 3, 2, 1], id="empty"),
        pytest.param("state:ENABLED", [4, 1], id="state-has"),
        pytest.param("state=DISABLED", [2], id="state-equals"),
        pytest.param("state!=ENABLED", [3, 2], id="state-not-equals"),
        pytest.param("create_time<2024-02-15T00:00:00Z", [2, 1], id="before"),
        pytest.param('create_time<="2024-02-01T00:00:00Z"', [2, 1], id="at-or-before-quoted"),
        pytest.param("create_time>2024-02-01T00:00:00Z", [4, 3], id="after"),
        pytest.param("create_time >= 2024-02-01T00:00:00+00:00", [4, 3, 2], id="at-or-after"),
        pytest.param("state:ENABLED AND create_time<2024-03-01T00:00:00Z", [1], id="and"),
        pytest.param(
            "state:ENABLED create_time<2024-03-01T00:00:00Z", [1], id="juxtaposition-is-and"
        ),
        pytest.param("state:DISABLED OR state:DESTROYED", [3, 2], id="or"),
        pytest.param("NOT state:ENABLED", [3, 2], id="not"),
        pytest.param("-state:ENABLED", [3, 2], id="minus"),
        pytest.param("NOT (state:ENABLED OR state:DESTROYED)", [2], id="not-group"),
        pytest.param(
            "(state:DISABLED OR state:DESTROYED) AND create_time>2024-02-15T00:00:00Z",
            [3],
            id="parentheses",
        ),
        pytest.param(
            # AIP-160: OR binds tighter than AND, so this is "<Jan 15 AND (DISABLED OR ENABLED)".
            "create_time<2024-01-15T00:00:00Z AND state:DISABLED OR state:ENABLED",
            [1],
            id="or-binds-tighter-than-and",
        ),
    ],
)
def test_list_filters(client, seeded, filter_, expected):
    listed = client.list_secret_versions(request={"parent": SECRET, "filter": filter_})

    assert version_numbers(listed) == expected


@pytest.mark.parametrize(
    "filter_",
    [
        pytest.param("state:", id="missing-value"),
        pytest.param("state:BOGUS", id="unknown-state"),
        pytest.param("state<ENABLED", id="bad-operator"),
        pytest.param("(state:ENABLED", id="unclosed-paren"),
        pytest.param("state:ENABLED)", id="stray-paren"),
        pytest.param("state:ENABLED AND", id="dangling-and"),
        pytest.param("AND state:ENABLED", id="leading-and"),
        pytest.param('state:"ENABLED', id="unterminated-quote"),
        pytest.param("create_time<yesterday", id="not-a-time"),
        pytest.param("create_time<2024-01-01T00:00:00", id="time-without-zone"),
        pytest.param("colour:red", id="unknown-field"),
    ],
)
def test_unusable_filters_are_invalid_argument(client, secret, filter_):
    with pytest.raises(exceptions.InvalidArgument):
        client.list_secret_versions(request={"parent": SECRET, "filter": filter_})


def test_the_pager_follows_small_pages_to_collect_every_version(client, secret):
    for _ in range(7):
        add(client)

    pager = client.list_secret_versions(request={"parent": SECRET, "page_size": 3})
    pages = list(pager.pages)

    assert [len(page.versions) for page in pages] == [3, 3, 1]
    assert [n for page in pages for n in version_numbers(page.versions)] == [7, 6, 5, 4, 3, 2, 1]


def test_pages_neither_repeat_nor_skip_when_versions_are_added_between_pages(client, secret):
    for _ in range(4):
        add(client)
    first = client.list_secret_versions(request={"parent": SECRET, "page_size": 2}).pages
    first_page = next(iter(first))
    add(client)

    rest = client.list_secret_versions(
        request={"parent": SECRET, "page_size": 2, "page_token": first_page.next_page_token}
    )

    assert version_numbers(first_page.versions) == [4, 3]
    assert version_numbers(rest) == [2, 1]


@pytest.mark.parametrize(
    ("filter_", "total"),
    [
        pytest.param("", 4, id="unfiltered-counts-all"),
        pytest.param("state:ENABLED", 0, id="filtered"),
    ],
)
def test_total_size_counts_all_versions_but_is_zero_when_filtered(client, seeded, filter_, total):
    """As the API documents for ListSecretVersionsResponse.total_size."""
    page = next(
        iter(
            client.list_secret_versions(
                request={"parent": SECRET, "filter": filter_, "page_size": 1}
            ).pages
        )
    )

    assert page.total_size == total


def test_a_foreign_page_token_is_invalid_argument(client, secret):
    with pytest.raises(exceptions.InvalidArgument):
        client.list_secret_versions(request={"parent": SECRET, "page_token": "not-a-token"})


# --- documented rules on what clients send ----------------------------------------------------
# Each test names its rule; the docstrings of devtools/emulators/secret_manager/ (indexed in its
# __init__.py) map every rule to its source and to the test here.

WRITTEN = f"projects/{PROJECT}/secrets/written"


@pytest.fixture(params=["create", "update"])
def write(request, client):
    """Send some Secret fields by CreateSecret, or by UpdateSecret masking exactly them."""

    def send(**fields):
        if request.param == "create":
            return client.create_secret(
                parent=f"projects/{PROJECT}", secret_id="written", secret=fields
            )
        if not created:
            client.create_secret(parent=f"projects/{PROJECT}", secret_id="written", secret={})
            created.append(True)
        return client.update_secret(
            secret={"name": WRITTEN, **fields}, update_mask={"paths": list(fields)}
        )

    created: list[bool] = []
    return send


def accepted(send, **fields):
    """Whether the emulator accepts ``fields``; anything but INVALID_ARGUMENT fails the test."""
    try:
        send(**fields)
    except exceptions.InvalidArgument:
        return False
    return True


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        pytest.param("a", True, id="1-char"),
        pytest.param("a" * 63, True, id="63-chars"),
        pytest.param("a" * 64, False, id="64-chars"),
        pytest.param("", False, id="empty"),
        pytest.param("momento-key-rotation.lease", True, id="dotted-product-key"),
        pytest.param("momento-key-rotation.last-attempt", True, id="dotted-product-key-2"),
        pytest.param("momento-key-rotation/lease", False, id="slash"),
        pytest.param("A.b_c-9", True, id="all-allowed-characters"),
        pytest.param("-a", False, id="starts-with-dash"),
        pytest.param("a.", False, id="ends-with-dot"),
        pytest.param("_a_", False, id="underscore-ends"),
        pytest.param("a b", False, id="space"),
        pytest.param("a:b", False, id="colon"),
        pytest.param("é", False, id="non-ascii-start"),
        pytest.param("aéb", False, id="non-ascii-between"),
    ],
)
def test_annotation_keys_follow_the_documented_pattern(write, key, valid):
    """1-63 characters, begin and end with [a-z0-9A-Z], only -, _, . and alphanumerics between
    (the 128-byte bound cannot bite: those characters are one byte each)."""
    assert accepted(write, annotations={key: "v"}) is valid


@pytest.mark.parametrize(
    ("annotations", "valid"),
    [
        pytest.param({"k": "v" * (16384 - 2)}, True, id="16KiB-minus-1-byte"),
        pytest.param({"k": "v" * (16384 - 1)}, False, id="exactly-16KiB"),
        pytest.param({"k1": "v" * 8000, "k2": "v" * 8379}, True, id="two-keys-16383-bytes"),
        pytest.param({"k1": "v" * 8000, "k2": "v" * 8380}, False, id="two-keys-16384-bytes"),
        # 8191 two-byte characters: 16383 bytes with the key, though only 8192 characters.
        pytest.param({"k": "é" * 8191}, True, id="utf8-16383-bytes"),
        pytest.param({"kk": "é" * 8191}, False, id="utf8-16384-bytes"),
    ],
)
def test_annotations_total_less_than_16_kib(write, annotations, valid):
    """Keys and values together must be less than 16KiB, counted in UTF-8 bytes."""
    assert accepted(write, annotations=annotations) is valid


def test_seeded_legacy_annotation_keys_are_kept_but_cannot_be_written_back(client, emulator):
    """Hooks seed without checks (state an old release left upstream); every RPC is checked,
    so a caller must drop the bad key when it rewrites the map."""
    emulator.create_secret(SECRET, annotations={"momento-key-rotation/lease": "old"})

    assert dict(client.get_secret(name=SECRET).annotations) == {"momento-key-rotation/lease": "old"}
    with pytest.raises(exceptions.InvalidArgument):
        client.update_secret(
            secret={
                "name": SECRET,
                "annotations": {
                    "momento-key-rotation/lease": "old",
                    "momento-key-rotation.lease": "new",
                },
            },
            update_mask={"paths": ["annotations"]},
        )
    client.update_secret(
        secret={"name": SECRET, "annotations": {"momento-key-rotation.lease": "new"}},
        update_mask={"paths": ["annotations"]},
    )
    assert emulator.annotations(SECRET) == {"momento-key-rotation.lease": "new"}


def test_fields_outside_the_mask_are_not_rechecked(client, emulator):
    """Unknown upstream; the emulator checks only what a request writes."""
    emulator.create_secret(SECRET, annotations={"legacy/key": "x"})

    updated = client.update_secret(
        secret={"name": SECRET, "labels": {"env": "prod"}}, update_mask={"paths": ["labels"]}
    )

    assert dict(updated.annotations) == {"legacy/key": "x"}


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        pytest.param("a", True, id="1-char"),
        pytest.param("a" * 63, True, id="63-chars"),
        pytest.param("a" * 64, False, id="64-chars"),
        pytest.param("", False, id="empty"),
        pytest.param("env_1-x", True, id="lowercase-digit-underscore-hyphen"),
        pytest.param("Env", False, id="uppercase"),
        pytest.param("1env", False, id="starts-with-digit"),
        pytest.param("_env", False, id="starts-with-underscore"),
        pytest.param("a.b", False, id="dot"),
        pytest.param("é", True, id="lowercase-non-ascii-Ll"),
        pytest.param("日本", True, id="other-letter-Lo"),
        pytest.param("a٣", True, id="arabic-indic-digit-N"),
        pytest.param("日" * 42, True, id="126-bytes"),
        pytest.param("日" * 43, False, id="129-bytes"),
    ],
)
def test_label_keys_follow_the_documented_pattern(write, key, valid):
    r"""1-63 characters, at most 128 bytes, [\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}."""
    assert accepted(write, labels={key: "v"}) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param("", True, id="empty"),
        pytest.param("v" * 63, True, id="63-chars"),
        pytest.param("v" * 64, False, id="64-chars"),
        pytest.param("1-2_x", True, id="starts-with-digit"),
        pytest.param("Prod", False, id="uppercase"),
        pytest.param("a.b", False, id="dot"),
        pytest.param("日" * 42, True, id="126-bytes"),
        pytest.param("日" * 43, False, id="129-bytes"),
    ],
)
def test_label_values_follow_the_documented_pattern(write, value, valid):
    r"""0-63 characters, at most 128 bytes, [\p{Ll}\p{Lo}\p{N}_-]{0,63}."""
    assert accepted(write, labels={"k": value}) is valid


@pytest.mark.parametrize(("count", "valid"), [(64, True), (65, False)])
def test_at_most_64_labels(write, count, valid):
    assert accepted(write, labels={f"k{i}": "v" for i in range(count)}) is valid


@pytest.mark.parametrize(
    ("topics", "valid"),
    [
        pytest.param(["projects/p/topics/t"], True, id="one"),
        pytest.param([f"projects/p/topics/t{i}" for i in range(10)], True, id="ten"),
        pytest.param([f"projects/p/topics/t{i}" for i in range(11)], False, id="eleven"),
        pytest.param(["topics/t"], False, id="no-project"),
        pytest.param(["projects/p/topics/"], False, id="empty-topic"),
        pytest.param(["projects/p/subscriptions/s"], False, id="subscription"),
        pytest.param(["projects/p/topics/t/extra"], False, id="trailing-segment"),
    ],
)
def test_topics_are_up_to_10_names_of_the_form_projects_topics(write, topics, valid):
    assert accepted(write, topics=[{"name": t} for t in topics]) is valid


# Rotation rules are relative to "now", so these tests freeze the emulator's clock.
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TOPICS = [{"name": "projects/p/topics/rotate"}]


@pytest.fixture
def frozen_client():
    with SecretManagerEmulator(
        project_numbers={PROJECT: NUMBER}, clock=lambda: NOW, rate_limits=False
    ) as emu:
        sm_client, channel = connect(emu.address)
        yield sm_client
        channel.close()


def rotation_accepted(sm_client, rotation, topics=TOPICS):
    try:
        sm_client.create_secret(
            parent=f"projects/{PROJECT}",
            secret_id="rotated",
            secret={"topics": topics, "rotation": rotation},
        )
    except exceptions.InvalidArgument:
        return False
    return True


@pytest.mark.parametrize(
    ("ahead", "valid"),
    [
        pytest.param(timedelta(seconds=300), True, id="300s"),
        pytest.param(timedelta(seconds=299), False, id="299s"),
        pytest.param(timedelta(seconds=3153600000), True, id="100-years"),
        pytest.param(timedelta(seconds=3153600001), False, id="100-years-and-1s"),
        pytest.param(-timedelta(hours=1), False, id="past"),
    ],
)
def test_next_rotation_time_is_300s_to_100_years_ahead(frozen_client, ahead, valid):
    assert rotation_accepted(frozen_client, {"next_rotation_time": NOW + ahead}) is valid


@pytest.mark.parametrize(
    ("period", "valid"),
    [
        pytest.param(duration_pb2.Duration(seconds=3600), True, id="1h"),
        pytest.param(duration_pb2.Duration(seconds=3599), False, id="1h-minus-1s"),
        pytest.param(duration_pb2.Duration(seconds=3153600000), True, id="100-years"),
        pytest.param(duration_pb2.Duration(seconds=3153600001), False, id="100-years-and-1s"),
        pytest.param(duration_pb2.Duration(seconds=3600, nanos=500), False, id="not-whole-seconds"),
    ],
)
def test_rotation_period_is_whole_seconds_from_1h_to_100_years(frozen_client, period, valid):
    rotation = {"next_rotation_time": NOW + timedelta(hours=1), "rotation_period": period}

    assert rotation_accepted(frozen_client, rotation) is valid


def test_rotation_period_needs_next_rotation_time(frozen_client):
    assert rotation_accepted(frozen_client, {"rotation_period": timedelta(hours=1)}) is False


def test_rotation_needs_topics(frozen_client):
    rotation = {"next_rotation_time": NOW + timedelta(hours=1)}

    assert rotation_accepted(frozen_client, rotation, topics=[]) is False
    assert rotation_accepted(frozen_client, rotation) is True


def test_rotation_can_be_set_by_update_when_the_secret_has_topics(frozen_client):
    frozen_client.create_secret(
        parent=f"projects/{PROJECT}", secret_id="s", secret={"topics": TOPICS}
    )
    name = f"projects/{PROJECT}/secrets/s"
    rotation = {"next_rotation_time": NOW + timedelta(seconds=299)}

    with pytest.raises(exceptions.InvalidArgument):
        frozen_client.update_secret(
            secret={"name": name, "rotation": rotation}, update_mask={"paths": ["rotation"]}
        )
    rotation = {
        "next_rotation_time": NOW + timedelta(days=30),
        "rotation_period": timedelta(days=30),
    }
    updated = frozen_client.update_secret(
        secret={"name": name, "rotation": rotation}, update_mask={"paths": ["rotation"]}
    )

    assert updated.rotation.next_rotation_time == NOW + timedelta(days=30)


def test_input_only_fields_are_not_returned(frozen_client):
    """rotation_period and ttl are INPUT_ONLY; expire_time "is always provided on output"."""
    created = frozen_client.create_secret(
        parent=f"projects/{PROJECT}",
        secret_id="s",
        secret={
            "topics": TOPICS,
            "rotation": {
                "next_rotation_time": NOW + timedelta(days=1),
                "rotation_period": timedelta(days=1),
            },
            "ttl": timedelta(days=7),
        },
    )
    got = frozen_client.get_secret(name=f"projects/{PROJECT}/secrets/s")

    for secret in (created, got):
        assert "rotation_period" not in secret.rotation
        assert secret.rotation.next_rotation_time == NOW + timedelta(days=1)
        assert "ttl" not in secret
        assert secret.expire_time == NOW + timedelta(days=7)


# --- update_mask ---------------------------------------------------------------------------------


def test_update_mask_is_required(client, secret):
    with pytest.raises(exceptions.InvalidArgument):
        client.update_secret(secret={"name": secret, "labels": {"a": "b"}}, update_mask={})


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("colour", id="no-such-field"),
        pytest.param("annotations.key", id="map-entry"),
        pytest.param("rotation.next_rotation_time", id="subfield"),
        pytest.param("*", id="wildcard"),
        pytest.param("etag", id="etag"),
    ],
)
def test_update_mask_paths_that_name_no_updatable_field_are_invalid(client, secret, path):
    with pytest.raises(exceptions.InvalidArgument):
        client.update_secret(secret={"name": secret}, update_mask={"paths": [path]})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("annotations", {"a": "1"}, id="annotations"),
        pytest.param("labels", {"a": "1"}, id="labels"),
        pytest.param("topics", TOPICS, id="topics"),
        pytest.param("expire_time", datetime(2099, 1, 1, tzinfo=UTC), id="expire_time"),
        pytest.param("ttl", timedelta(days=1), id="ttl"),
        pytest.param("version_destroy_ttl", timedelta(days=1), id="version_destroy_ttl"),
        pytest.param("version_aliases", {}, id="version_aliases"),
        pytest.param("rotation", {}, id="rotation"),
        pytest.param(
            "customer_managed_encryption",
            {"kms_key_name": "projects/p/locations/global/keyRings/r/cryptoKeys/k"},
            id="customer_managed_encryption",
        ),
    ],
)
def test_every_mutable_field_can_be_updated(client, secret, field, value):
    before = client.get_secret(name=secret).etag

    updated = client.update_secret(
        secret={"name": secret, field: value}, update_mask={"paths": [field]}
    )

    assert updated.etag != before


def test_output_only_paths_in_the_mask_are_ignored(client, secret):
    """AIP-161/AIP-203: a service must ignore output only fields named in an update mask."""
    before = client.get_secret(name=secret)

    updated = client.update_secret(
        secret={
            "name": secret,
            "create_time": datetime(2001, 1, 1, tzinfo=UTC),
            "labels": {"a": "b"},
        },
        update_mask={"paths": ["create_time", "labels"]},
    )

    assert updated.create_time == before.create_time
    assert dict(updated.labels) == {"a": "b"}


def test_immutable_replication_cannot_change(client, secret):
    """AIP-203: unchanged is ignored, a change is INVALID_ARGUMENT."""
    client.update_secret(
        secret={"name": secret, "replication": {"automatic": {}}},
        update_mask={"paths": ["replication"]},
    )
    with pytest.raises(exceptions.InvalidArgument):
        client.update_secret(
            secret={
                "name": secret,
                "replication": {"user_managed": {"replicas": [{"location": "us-east1"}]}},
            },
            update_mask={"paths": ["replication"]},
        )


# --- version aliases -----------------------------------------------------------------------------


def set_aliases(client, aliases, name=SECRET):
    return client.update_secret(
        secret={"name": name, "version_aliases": aliases},
        update_mask={"paths": ["version_aliases"]},
    )


@pytest.mark.parametrize(
    ("alias", "valid"),
    [
        pytest.param("s", True, id="1-char"),
        pytest.param("Stable-1_x", True, id="letters-numerals-hyphen-underscore"),
        pytest.param("a" * 63, True, id="63-chars"),
        pytest.param("a" * 64, False, id="64-chars"),
        pytest.param("1st", False, id="starts-with-numeral"),
        pytest.param("-a", False, id="starts-with-hyphen"),
        pytest.param("a.b", False, id="dot"),
        pytest.param("latest", False, id="latest"),
        pytest.param("Latest", False, id="Latest"),
        pytest.param("NEW", False, id="NEW"),
        pytest.param("new", False, id="new"),
        pytest.param("newest", True, id="newest"),
    ],
)
def test_version_alias_names_follow_the_documented_pattern(client, emulator, secret, alias, valid):
    emulator.add_version(secret, b"x")

    assert accepted(lambda **f: set_aliases(client, **f), aliases={alias: 1}) is valid


@pytest.mark.parametrize(("count", "valid"), [(50, True), (51, False)])
def test_at_most_50_version_aliases(client, emulator, secret, count, valid):
    emulator.add_version(secret, b"x")

    assert (
        accepted(lambda **f: set_aliases(client, **f), aliases={f"a{i}": 1 for i in range(count)})
        is valid
    )


@pytest.mark.parametrize("number", [0, 2, -1])
def test_a_version_alias_must_name_an_existing_version(client, emulator, secret, number):
    """Not documented; refusing is the emulator's conservative choice."""
    emulator.add_version(secret, b"x")

    with pytest.raises(exceptions.InvalidArgument):
        set_aliases(client, {"stable": number})


def test_version_aliases_are_refused_on_create_as_no_version_exists(client):
    with pytest.raises(exceptions.InvalidArgument):
        client.create_secret(
            parent=f"projects/{PROJECT}", secret_id="s", secret={"version_aliases": {"a": 1}}
        )


def test_get_secret_returns_version_aliases_and_get_version_resolves_them(client, emulator, secret):
    emulator.add_version(secret, b"one")
    emulator.add_version(secret, b"two", state="DISABLED")
    set_aliases(client, {"stable": 1, "next": 2})

    got = client.get_secret(name=secret)
    stable = client.get_secret_version(name=f"{SECRET}/versions/stable")
    following = client.get_secret_version(name=f"{SECRET}/versions/next")

    assert dict(got.version_aliases) == {"stable": 1, "next": 2}
    assert stable.name == f"{CANONICAL}/versions/1"
    assert following.state.name == "DISABLED"
    with pytest.raises(exceptions.FailedPrecondition):
        client.access_secret_version(name=f"{SECRET}/versions/next")
    with pytest.raises(exceptions.NotFound):
        client.access_secret_version(name=f"{SECRET}/versions/unknown")


@pytest.mark.parametrize("version_id", ["stable", "latest"])
@pytest.mark.parametrize("method", ["disable", "enable", "destroy"])
def test_state_changes_take_version_numbers_only(client, emulator, secret, method, version_id):
    """Documented: access by alias is only supported on GetSecretVersion and AccessSecretVersion
    (and `latest` is documented for those two only). The status code is not documented."""
    emulator.add_version(secret, b"x")
    emulator.set_version_aliases(secret, {"stable": 1})

    with pytest.raises(exceptions.InvalidArgument):
        getattr(client, f"{method}_secret_version")(name=f"{SECRET}/versions/{version_id}")
    assert emulator.version_states(secret) == {1: "ENABLED"}


def test_set_version_aliases_hook_seeds_without_checks(client, emulator, secret):
    emulator.add_version(secret, b"x")
    etag = client.get_secret(name=secret).etag

    emulator.set_version_aliases(secret, {"latest": 1, "dangling": 7})

    got = client.get_secret(name=secret)
    assert dict(got.version_aliases) == {"latest": 1, "dangling": 7}
    assert got.etag == etag


# --- etags ---------------------------------------------------------------------------------------


def test_updates_that_change_nothing_still_get_a_new_etag(client, emulator, secret):
    """Documented: "Even when an update doesn't change a resource's state, it still updates
    the resource ETag", so the etag read before the no-op is stale afterwards."""
    emulator.add_version(secret, b"x", state="DISABLED")
    version = f"{SECRET}/versions/1"
    version_etag = client.get_secret_version(name=version).etag
    secret_etag = client.get_secret(name=secret).etag

    redisabled = client.disable_secret_version(name=version)
    same_annotations = client.update_secret(
        secret={"name": secret, "annotations": {}}, update_mask={"paths": ["annotations"]}
    )

    assert redisabled.state.name == "DISABLED"
    assert redisabled.etag != version_etag
    assert same_annotations.etag != secret_etag
    with pytest.raises(exceptions.FailedPrecondition):
        client.enable_secret_version(request={"name": version, "etag": version_etag})
    with pytest.raises(exceptions.FailedPrecondition):
        client.update_secret(
            secret={"name": secret, "etag": secret_etag, "labels": {"a": "b"}},
            update_mask={"paths": ["labels"]},
        )


def test_enabling_an_enabled_version_gets_a_new_etag(client, secret):
    added = add(client)

    enabled = client.enable_secret_version(name=f"{SECRET}/versions/1")

    assert enabled.etag != added.etag


def test_version_changes_leave_the_secret_etag_alone(client, secret):
    etag = client.get_secret(name=secret).etag

    add(client)
    client.disable_secret_version(name=f"{SECRET}/versions/1")
    client.destroy_secret_version(name=f"{SECRET}/versions/1")

    assert client.get_secret(name=secret).etag == etag


def test_secret_updates_leave_version_etags_alone(client, secret):
    etag = add(client).etag

    client.update_secret(
        secret={"name": secret, "annotations": {"a": "1"}}, update_mask={"paths": ["annotations"]}
    )

    assert client.get_secret_version(name=f"{SECRET}/versions/1").etag == etag


def test_the_default_precondition_message_does_not_mention_etags(client, secret):
    with pytest.raises(exceptions.FailedPrecondition) as raised:
        client.delete_secret(request={"name": secret, "etag": '"stale"'})

    assert "etag" not in raised.value.message.lower()


def test_set_precondition_message_replaces_every_etag_mismatch_message(client, emulator, secret):
    stale = add(client).etag
    client.disable_secret_version(name=f"{SECRET}/versions/1")
    emulator.set_precondition_message("the resource moved on")
    mismatches = [
        lambda: client.update_secret(
            secret={"name": secret, "etag": '"stale"'}, update_mask={"paths": ["labels"]}
        ),
        lambda: client.delete_secret(request={"name": secret, "etag": '"stale"'}),
        lambda: client.enable_secret_version(
            request={"name": f"{SECRET}/versions/1", "etag": stale}
        ),
        lambda: client.disable_secret_version(
            request={"name": f"{SECRET}/versions/1", "etag": stale}
        ),
        lambda: client.destroy_secret_version(
            request={"name": f"{SECRET}/versions/1", "etag": stale}
        ),
    ]

    for mismatch in mismatches:
        with pytest.raises(exceptions.FailedPrecondition) as raised:
            mismatch()
        assert raised.value.message == "the resource moved on"

    emulator.set_precondition_message(None)
    with pytest.raises(exceptions.FailedPrecondition) as raised:
        mismatches[1]()
    assert raised.value.message != "the resource moved on"


def test_any_etag_but_the_current_one_is_failed_precondition(client, secret):
    """Unknown whether a malformed (e.g. unquoted) etag is INVALID_ARGUMENT upstream."""
    etag = client.get_secret(name=secret).etag

    with pytest.raises(exceptions.FailedPrecondition):
        client.delete_secret(request={"name": secret, "etag": etag.strip('"')})


# --- payloads --------------------------------------------------------------------------------------


def test_an_empty_payload_is_accepted(client, secret):
    """Undocumented either way; the emulator accepts it."""
    added = add(client, b"")

    assert client.access_secret_version(name=added.name).payload.data == b""


# --- page size -------------------------------------------------------------------------------------


@pytest.mark.parametrize("requested", [25001, 0])
def test_list_secret_versions_page_size_is_capped_at_25000(client, emulator, secret, requested):
    """Documented: above 25000 is capped at 25000; 0 lets the server decide (it picks 25000)."""
    for _ in range(25001):
        emulator.add_version(secret, b"")

    pages = client.list_secret_versions(request={"parent": SECRET, "page_size": requested}).pages

    assert [len(page.versions) for page in pages] == [25000, 1]


def test_list_secrets_page_size_is_capped_at_25000(client, emulator):
    for i in range(25001):
        emulator.create_secret(f"projects/{PROJECT}/secrets/s{i}")

    pages = client.list_secrets(request={"parent": f"projects/{PROJECT}", "page_size": 25001}).pages

    assert [len(page.secrets) for page in pages] == [25000, 1]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda c: list(c.list_secret_versions(request={"parent": SECRET, "page_size": -1})),
            id="versions",
        ),
        pytest.param(
            lambda c: list(
                c.list_secrets(request={"parent": f"projects/{PROJECT}", "page_size": -1})
            ),
            id="secrets",
        ),
    ],
)
def test_a_negative_page_size_is_invalid_argument(client, secret, call):
    """Secret Manager does not document it; AIP-158 says INVALID_ARGUMENT."""
    with pytest.raises(exceptions.InvalidArgument):
        call(client)


def test_equal_create_times_list_the_newest_created_first(frozen_client):
    """Undocumented tie order; the emulator lists the later-created item first."""
    for secret_id in ["a", "b", "c"]:
        frozen_client.create_secret(parent=f"projects/{PROJECT}", secret_id=secret_id, secret={})
    parent = f"projects/{PROJECT}/secrets/a"
    for _ in range(3):
        frozen_client.add_secret_version(parent=parent, payload={"data": b"x"})

    secrets = frozen_client.list_secrets(request={"parent": f"projects/{PROJECT}", "page_size": 1})
    versions = frozen_client.list_secret_versions(request={"parent": parent, "page_size": 1})

    assert [s.name.rsplit("/", 1)[1] for s in secrets] == ["c", "b", "a"]
    assert version_numbers(versions) == [3, 2, 1]


def test_a_version_alias_may_name_a_destroyed_version(client, emulator, secret):
    """Undocumented; the emulator allows it, and access through it is FAILED_PRECONDITION."""
    emulator.add_version(secret, b"x", state="DESTROYED")

    set_aliases(client, {"gone": 1})

    with pytest.raises(exceptions.FailedPrecondition):
        client.access_secret_version(name=f"{SECRET}/versions/gone")


def test_topics_can_be_removed_from_a_secret_with_a_rotation(frozen_client):
    """Undocumented; the emulator allows it and keeps the rotation."""
    frozen_client.create_secret(
        parent=f"projects/{PROJECT}",
        secret_id="s",
        secret={"topics": TOPICS, "rotation": {"next_rotation_time": NOW + timedelta(hours=1)}},
    )

    updated = frozen_client.update_secret(
        secret={"name": f"projects/{PROJECT}/secrets/s", "topics": []},
        update_mask={"paths": ["topics"]},
    )

    assert list(updated.topics) == []
    assert updated.rotation.next_rotation_time == NOW + timedelta(hours=1)


# --- secret expiration -------------------------------------------------------------------------
# "Set an expiration date for a secret": an expiration is 60 s to 100 years away, and at that
# time the secret is deleted with its versions. Expiry is relative to the emulator clock, so
# these tests move it.


class MovableClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return MovableClock(NOW)


@pytest.fixture
def timed(clock):
    """An emulator on ``clock`` and a client of it."""
    with SecretManagerEmulator(
        project_numbers={PROJECT: NUMBER}, clock=clock, rate_limits=False
    ) as emu:
        sm_client, channel = connect(emu.address)
        yield emu, sm_client
        channel.close()


HUNDRED_YEARS = timedelta(seconds=3153600000)


@pytest.mark.parametrize(
    ("ahead", "valid"),
    [
        pytest.param(timedelta(seconds=60), True, id="60s"),
        pytest.param(timedelta(seconds=59), False, id="59s"),
        pytest.param(HUNDRED_YEARS, True, id="100-years"),
        pytest.param(HUNDRED_YEARS + timedelta(seconds=1), False, id="100-years-and-1s"),
        pytest.param(-timedelta(hours=1), False, id="past"),
    ],
)
@pytest.mark.parametrize("field", ["ttl", "expire_time"])
@pytest.mark.parametrize("how", ["create", "update"])
def test_an_expiration_is_60_seconds_to_100_years_away(timed, how, field, ahead, valid):
    """A ttl counts from the request; either way GetSecret returns the expire_time."""
    emulator, sm_client = timed
    value = ahead if field == "ttl" else NOW + ahead
    if how == "update":
        emulator.create_secret(SECRET)

    def send():
        if how == "create":
            return sm_client.create_secret(
                parent=f"projects/{PROJECT}", secret_id="momento-key", secret={field: value}
            )
        return sm_client.update_secret(
            secret={"name": SECRET, field: value}, update_mask={"paths": [field]}
        )

    if valid:
        send()
        assert sm_client.get_secret(name=SECRET).expire_time == NOW + ahead
    else:
        with pytest.raises(exceptions.InvalidArgument):
            send()
        if how == "update":
            assert "expire_time" not in sm_client.get_secret(name=SECRET)


@pytest.mark.parametrize(
    ("mask", "sent", "expected"),
    [
        pytest.param(["ttl"], {"ttl": timedelta(days=2)}, NOW + timedelta(days=2), id="ttl"),
        pytest.param(
            ["expire_time"],
            {"expire_time": NOW + timedelta(days=3)},
            NOW + timedelta(days=3),
            id="expire_time",
        ),
        pytest.param(["ttl"], {}, None, id="remove-by-ttl"),
        pytest.param(["expire_time"], {}, None, id="remove-by-expire_time"),
        pytest.param(["expire_time"], {"ttl": timedelta(days=2)}, None, id="unmasked-member"),
    ],
)
def test_update_secret_changes_or_removes_the_expiration(timed, mask, sent, expected):
    """ "An expiration can be added, updated, or removed"; a masked member left unset removes it
    (AIP-134), and the member the mask does not name is ignored."""
    emulator, sm_client = timed
    emulator.create_secret(SECRET, expire_time=NOW + timedelta(days=1))

    updated = sm_client.update_secret(secret={"name": SECRET, **sent}, update_mask={"paths": mask})

    for secret in (updated, sm_client.get_secret(name=SECRET)):
        if expected is None:
            assert "expire_time" not in secret
        else:
            assert secret.expire_time == expected


EXPIRING = f"{SECRET}/versions/1"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.get_secret(name=SECRET), id="get-secret"),
        pytest.param(
            lambda c: c.update_secret(
                secret={"name": SECRET, "labels": {"a": "b"}}, update_mask={"paths": ["labels"]}
            ),
            id="update-secret",
        ),
        pytest.param(lambda c: c.delete_secret(name=SECRET), id="delete-secret"),
        pytest.param(add, id="add-version"),
        pytest.param(lambda c: list(c.list_secret_versions(parent=SECRET)), id="list-versions"),
        pytest.param(lambda c: c.get_secret_version(name=EXPIRING), id="get-version"),
        pytest.param(lambda c: c.access_secret_version(name=EXPIRING), id="access-version"),
        pytest.param(
            lambda c: c.access_secret_version(name=f"{SECRET}/versions/latest"), id="latest"
        ),
        pytest.param(lambda c: c.enable_secret_version(name=EXPIRING), id="enable"),
        pytest.param(lambda c: c.disable_secret_version(name=EXPIRING), id="disable"),
        pytest.param(lambda c: c.destroy_secret_version(name=EXPIRING), id="destroy"),
    ],
)
def test_at_its_expire_time_a_secret_is_deleted_with_its_versions(timed, clock, call):
    emulator, sm_client = timed
    emulator.create_secret(SECRET, expire_time=NOW + timedelta(hours=1))
    emulator.add_version(SECRET, b"key")
    clock.now = NOW + timedelta(hours=1) - timedelta(microseconds=1)
    call(sm_client)  # still there just before

    clock.now = NOW + timedelta(hours=1)

    with pytest.raises(exceptions.NotFound, match=re.escape(CANONICAL)):
        call(sm_client)


def test_list_secrets_leaves_out_expired_secrets(timed, clock):
    emulator, sm_client = timed
    emulator.create_secret(f"projects/{PROJECT}/secrets/kept")
    emulator.create_secret(SECRET, expire_time=NOW + timedelta(minutes=1))

    clock.now = NOW + timedelta(minutes=2)
    response = sm_client.list_secrets(request={"parent": f"projects/{PROJECT}"})

    assert [s.name for s in response] == [f"projects/{NUMBER}/secrets/kept"]
    assert response.total_size == 1


def test_an_expired_secret_id_can_be_created_again_without_the_old_versions(timed, clock):
    emulator, sm_client = timed
    emulator.create_secret(SECRET, expire_time=NOW + timedelta(minutes=1))
    emulator.add_version(SECRET, b"old")
    clock.now = NOW + timedelta(minutes=2)

    created = sm_client.create_secret(
        parent=f"projects/{PROJECT}", secret_id="momento-key", secret={}
    )

    assert "expire_time" not in created
    assert list(sm_client.list_secret_versions(parent=SECRET)) == []


def test_expiration_hooks_seed_unchecked_without_a_new_etag(timed):
    emulator, sm_client = timed
    emulator.create_secret(SECRET, expire_time=NOW + timedelta(seconds=1))  # RPCs refuse < 60 s
    etag = sm_client.get_secret(name=SECRET).etag

    emulator.set_expire_time(SECRET, None)
    kept = sm_client.get_secret(name=SECRET)
    emulator.set_expire_time(SECRET, NOW - timedelta(days=1))

    assert "expire_time" not in kept
    assert kept.etag == etag
    with pytest.raises(EmulatorError) as raised:
        emulator.version_states(SECRET)
    assert raised.value.code is grpc.StatusCode.NOT_FOUND


# --- delayed destruction -----------------------------------------------------------------------
# "Delay destruction of secret versions": with the secret's version_destroy_ttl set, a destroy
# only disables the version and schedules its destruction ttl later; enabling or disabling it
# cancels the schedule. Schedules follow the emulator clock, so these tests move it.

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
V1 = f"{SECRET}/versions/1"
V2 = f"{SECRET}/versions/2"
# The regional secrets' section below names its own; this one is needed up here.
REGIONAL_US = f"projects/{PROJECT}/locations/us-central1/secrets/momento-key"


@pytest.mark.parametrize(
    ("ttl", "valid"),
    [
        pytest.param(DAY, True, id="24h"),
        pytest.param(DAY - timedelta(seconds=1), False, id="24h-less-1s"),
        pytest.param(timedelta(seconds=1), False, id="1s"),
        pytest.param(timedelta(0), True, id="0s-no-delay"),
        pytest.param(-DAY, False, id="negative"),
        pytest.param(DAY + timedelta(milliseconds=500), True, id="fraction-of-a-second"),
        pytest.param(timedelta(days=1000), True, id="1000-days"),
        pytest.param(timedelta(seconds=3153600000), True, id="100-years-no-maximum"),
    ],
)
def test_version_destroy_ttl_is_0s_or_at_least_24h(write, ttl, valid):
    """resources.py: "TTL>0" delays destruction, so 0s means none. The 24h minimum is Google's
    Terraform text for regional secrets; no maximum is documented (unknown rows)."""
    assert accepted(write, version_destroy_ttl=ttl) is valid


def test_a_0s_version_destroy_ttl_is_kept_and_destroys_at_once(client):
    """Unknown row: 0s is no delay ("TTL>0" delays); we keep it and return it as sent."""
    client.create_secret(
        parent=f"projects/{PROJECT}",
        secret_id="momento-key",
        secret={"version_destroy_ttl": timedelta(0)},
    )
    add(client)

    destroyed = client.destroy_secret_version(name=V1)

    assert client.get_secret(name=SECRET).version_destroy_ttl == timedelta(0)
    assert "version_destroy_ttl" in client.get_secret(name=SECRET)
    assert destroyed.state.name == "DESTROYED"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        pytest.param({"version_destroy_ttl": DAY * 30}, DAY * 30, id="set"),
        pytest.param({}, None, id="removed-by-the-mask-alone"),
    ],
)
def test_update_secret_sets_or_removes_the_version_destroy_ttl(
    client, emulator, secret, sent, expected
):
    """The python-docs-samples "disable delayed destroy" sample masks version_destroy_ttl and
    sends none (AIP-134: a masked field left unset is cleared)."""
    emulator.set_version_destroy_ttl(secret, WEEK)

    updated = client.update_secret(
        secret={"name": SECRET, **sent}, update_mask={"paths": ["version_destroy_ttl"]}
    )

    for got in (updated, client.get_secret(name=SECRET)):
        if expected is None:
            assert "version_destroy_ttl" not in got
        else:
            assert got.version_destroy_ttl == expected


@pytest.mark.parametrize("name", [SECRET, REGIONAL_US], ids=["global", "regional"])
@pytest.mark.parametrize("state", ["ENABLED", "DISABLED"])
def test_with_a_version_destroy_ttl_destroy_schedules_the_version(timed, name, state):
    emulator, sm_client = timed
    parent, secret_id = name.rsplit("/secrets/", 1)
    sm_client.create_secret(
        parent=parent, secret_id=secret_id, secret={"version_destroy_ttl": WEEK}
    )
    add(sm_client, b"kept", parent=name)
    if state == "DISABLED":
        sm_client.disable_secret_version(name=f"{name}/versions/1")

    answered = sm_client.destroy_secret_version(name=f"{name}/versions/1")
    got = sm_client.get_secret_version(name=f"{name}/versions/1")
    (listed,) = sm_client.list_secret_versions(parent=name)

    for version in (answered, got, listed):
        assert version.state.name == "DISABLED"
        assert version.scheduled_destroy_time == NOW + WEEK
        assert "destroy_time" not in version
    assert emulator.payload(name, 1) == b"kept"
    assert sm_client.get_secret(name=name).version_destroy_ttl == WEEK


def schedule_v1(timed, payload=b"kept"):
    """A secret with a week's version_destroy_ttl whose version 1 is scheduled at NOW."""
    emulator, sm_client = timed
    emulator.create_secret(SECRET)
    emulator.set_version_destroy_ttl(SECRET, WEEK)
    add(sm_client, payload)
    return sm_client.destroy_secret_version(name=V1)


def test_a_scheduled_version_is_destroyed_once_its_time_has_passed(timed, clock):
    """ "Version is destroyed only after the scheduled_destroy_time"; the emulator does it on the
    first access after it, with destroy_time the scheduled time (unknown rows)."""
    emulator, sm_client = timed
    scheduled = schedule_v1(timed)
    clock.now = NOW + WEEK
    at_the_time = sm_client.get_secret_version(name=V1)

    clock.now = NOW + WEEK + timedelta(microseconds=1)
    after = sm_client.get_secret_version(name=V1)

    assert at_the_time.state.name == "DISABLED"
    assert at_the_time.etag == scheduled.etag
    assert after.state.name == "DESTROYED"
    assert after.destroy_time == NOW + WEEK
    assert after.scheduled_destroy_time == NOW + WEEK
    assert after.etag != scheduled.etag
    assert emulator.payload(SECRET, 1) is None
    with pytest.raises(exceptions.FailedPrecondition, match="is in DESTROYED state"):
        sm_client.access_secret_version(name=V1)
    for method in ("enable", "disable", "destroy"):
        with pytest.raises(exceptions.FailedPrecondition, match="DESTROYED"):
            getattr(sm_client, f"{method}_secret_version")(name=V1)


@pytest.mark.parametrize(("method", "state"), [("enable", "ENABLED"), ("disable", "DISABLED")])
def test_enabling_or_disabling_a_scheduled_version_cancels_the_schedule(
    timed, clock, method, state
):
    emulator, sm_client = timed
    schedule_v1(timed)

    restored = getattr(sm_client, f"{method}_secret_version")(name=V1)
    clock.now = NOW + WEEK * 2

    for version in (restored, sm_client.get_secret_version(name=V1)):
        assert version.state.name == state
        assert "scheduled_destroy_time" not in version
    assert emulator.payload(SECRET, 1) == b"kept"


@pytest.mark.parametrize(
    "ttl_now",
    [
        pytest.param(WEEK, id="same-ttl"),
        pytest.param(DAY * 30, id="longer-ttl"),
        pytest.param(None, id="ttl-removed"),
    ],
)
def test_destroying_a_scheduled_version_again_keeps_its_schedule(timed, clock, ttl_now):
    """Undocumented; we keep the schedule, neither sooner nor later, and give a new etag."""
    emulator, sm_client = timed
    first = schedule_v1(timed)
    emulator.set_version_destroy_ttl(SECRET, ttl_now)
    clock.now = NOW + DAY

    again = sm_client.destroy_secret_version(request={"name": V1, "etag": first.etag})

    assert again.state.name == "DISABLED"
    assert again.scheduled_destroy_time == NOW + WEEK
    assert again.etag != first.etag
    assert emulator.payload(SECRET, 1) == b"kept"


@pytest.mark.parametrize(
    ("sent", "second"),
    [
        pytest.param({}, None, id="ttl-removed"),
        pytest.param({"version_destroy_ttl": DAY}, NOW + DAY, id="ttl-shortened"),
        pytest.param({"version_destroy_ttl": DAY * 30}, NOW + DAY * 30, id="ttl-lengthened"),
    ],
)
def test_changing_the_version_destroy_ttl_leaves_scheduled_versions_alone(timed, sent, second):
    """Undocumented; a schedule is fixed when the destroy is asked. A later destroy uses the ttl
    of its moment: none destroys at once."""
    _, sm_client = timed
    schedule_v1(timed)
    add(sm_client)

    sm_client.update_secret(
        secret={"name": SECRET, **sent}, update_mask={"paths": ["version_destroy_ttl"]}
    )
    destroyed = sm_client.destroy_secret_version(name=V2)

    assert sm_client.get_secret_version(name=V1).scheduled_destroy_time == NOW + WEEK
    if second is None:
        assert destroyed.state.name == "DESTROYED"
        assert "scheduled_destroy_time" not in destroyed
    else:
        assert destroyed.state.name == "DISABLED"
        assert destroyed.scheduled_destroy_time == second


@pytest.mark.parametrize(
    "filter_",
    [
        "NOT state:DESTROYED",
        "-state:DESTROYED",
        "state!=DESTROYED",
        "state:ENABLED OR state:DISABLED",
    ],
)
def test_listing_every_version_but_the_destroyed_ones_shows_scheduled_ones(timed, filter_):
    """One list call covers ENABLED, DISABLED and scheduled versions; a version past its
    scheduled time is DESTROYED and left out."""
    emulator, sm_client = timed
    emulator.create_secret(SECRET)
    emulator.add_version(SECRET, b"1", state="DESTROYED")
    emulator.add_version(SECRET, b"2", state="DISABLED", scheduled_destroy_time=NOW + WEEK)
    emulator.add_version(SECRET, b"3", state="DISABLED")
    emulator.add_version(SECRET, b"4", state="DISABLED", scheduled_destroy_time=NOW - DAY)
    emulator.add_version(SECRET, b"5")

    listed = list(sm_client.list_secret_versions(request={"parent": SECRET, "filter": filter_}))

    assert version_numbers(listed) == [5, 3, 2]
    scheduled = {
        number_of(v.name): v.scheduled_destroy_time for v in listed if "scheduled_destroy_time" in v
    }
    assert scheduled == {2: NOW + WEEK}


def test_hooks_seed_scheduled_versions_and_the_version_destroy_ttl(timed, clock):
    """Seeding skips the rules: a ttl the RPCs refuse, a schedule already past."""
    emulator, sm_client = timed
    emulator.create_secret(SECRET)
    etag = sm_client.get_secret(name=SECRET).etag

    emulator.set_version_destroy_ttl(SECRET, timedelta(hours=1))
    with_ttl = sm_client.get_secret(name=SECRET)
    emulator.add_version(SECRET, b"s", state="DISABLED", scheduled_destroy_time=NOW + DAY)
    emulator.add_version(SECRET, b"p", state="DISABLED", scheduled_destroy_time=NOW - DAY)
    add(sm_client)
    short = sm_client.destroy_secret_version(name=f"{SECRET}/versions/3")
    emulator.set_version_destroy_ttl(SECRET, None)

    assert (with_ttl.version_destroy_ttl, with_ttl.etag) == (timedelta(hours=1), etag)
    assert "version_destroy_ttl" not in sm_client.get_secret(name=SECRET)
    assert sm_client.get_secret(name=SECRET).etag == etag
    assert short.scheduled_destroy_time == NOW + timedelta(hours=1)
    assert sm_client.get_secret_version(name=V1).scheduled_destroy_time == NOW + DAY
    assert emulator.version_states(SECRET) == {1: "DISABLED", 2: "DESTROYED", 3: "DISABLED"}
    with pytest.raises(ValueError, match="DISABLED"):
        emulator.add_version(SECRET, b"x", scheduled_destroy_time=NOW + DAY)
    with pytest.raises(ValueError, match="timezone-aware"):
        emulator.add_version(
            SECRET, b"x", state="DISABLED", scheduled_destroy_time=datetime(2024, 7, 1)
        )


# --- write rate limits ---------------------------------------------------------------------------
# "Secret Manager quotas and limits", global secrets: AddSecretVersion and UpdateSecret 2 per
# second and 120 per minute per secret; Enable/Disable/DestroySecretVersion 1 per second and 60
# per minute per secret version. Counted on a monotonic clock, which these tests drive.


class Ticks:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


OTHER = f"projects/{PROJECT}/secrets/other"
OK, EXHAUSTED = "ok", "exhausted"


def update_labels(c, name=SECRET):
    c.update_secret(secret={"name": name, "labels": {}}, update_mask={"paths": ["labels"]})


def state_change(method, number, name=SECRET):
    return lambda c: getattr(c, f"{method}_secret_version")(name=f"{name}/versions/{number}")


@pytest.fixture
def limited():
    """Rate limits on, with 60 enabled versions seeded (hooks are not counted) in SECRET and
    one in OTHER; the monotonic clock is frozen until a test moves it."""
    ticks = Ticks()
    with SecretManagerEmulator(project_numbers={PROJECT: NUMBER}, monotonic=ticks) as emu:
        for name, count in [(SECRET, 60), (OTHER, 1)]:
            emu.create_secret(name)
            for _ in range(count):
                emu.add_version(name, b"x")
        sm_client, channel = connect(emu.address)
        yield emu, sm_client, ticks
        channel.close()


def outcomes(limited, steps):
    """Run (seconds since start, call) steps; the outcome of each."""
    _, sm_client, ticks = limited
    start = ticks.now
    results = []
    for at, call in steps:
        ticks.now = start + at
        try:
            call(sm_client)
        except exceptions.ResourceExhausted:
            results.append(EXHAUSTED)
        else:
            results.append(OK)
    return results


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [(0, add), (0, add), (0.999, add), (1.0, add)],
            [OK, OK, EXHAUSTED, OK],
            id="add-2-per-second-per-secret",
        ),
        pytest.param(
            [(0, update_labels), (0.5, update_labels), (0.9, update_labels)],
            [OK, OK, EXHAUSTED],
            id="update-2-per-second-per-secret",
        ),
        pytest.param(
            [(0, add), (0, update_labels), (0.5, add), (0.5, update_labels)],
            [OK, OK, EXHAUSTED, EXHAUSTED],
            id="add-and-update-share-one-budget",
        ),
        pytest.param(
            [(0, add), (0, add), (0, lambda c: add(c, parent=OTHER))],
            [OK, OK, OK],
            id="other-secrets-have-their-own-budget",
        ),
        pytest.param(
            [(0, add), (0.5, add), (0.6, add), (1.0, add)],
            [OK, OK, EXHAUSTED, OK],
            id="refused-calls-do-not-count",
        ),
        pytest.param(
            [(i / 2, add) for i in range(121)],
            [OK] * 121,
            id="a-steady-2-per-second-for-a-minute-passes",
        ),
        pytest.param(
            [(0, state_change("disable", 1)), (0.999, state_change("enable", 1))],
            [OK, EXHAUSTED],
            id="one-version-1-per-second",
        ),
        pytest.param(
            [(0, state_change("disable", 1)), (1.0, state_change("enable", 1))],
            [OK, OK],
            id="one-version-again-after-a-second",
        ),
        pytest.param(
            [(0, state_change("disable", 2)), (0.1, state_change("destroy", 2))],
            [OK, EXHAUSTED],
            id="enable-disable-destroy-share-one-budget",
        ),
        pytest.param(
            [(0, state_change("disable", n)) for n in range(1, 61)],
            [OK] * 60,
            id="a-sweep-of-60-versions-in-an-instant-passes",
        ),
        pytest.param(
            [(0, add), (0, add), (0, state_change("disable", 1)), (0, state_change("disable", 2))],
            [OK, OK, OK, OK],
            id="version-changes-and-adds-are-counted-apart",
        ),
        pytest.param(
            [(0, lambda c: c.get_secret(name=SECRET))] * 5
            + [(0, lambda c: c.access_secret_version(name=f"{SECRET}/versions/1"))] * 5
            + [(0, lambda c: list(c.list_secret_versions(parent=SECRET)))] * 5,
            [OK] * 15,
            id="reads-are-not-limited",
        ),
    ],
)
def test_write_rate_limits_apply_per_secret_and_per_version(limited, steps, expected):
    assert outcomes(limited, steps) == expected


def test_a_write_over_the_rate_limit_changes_nothing(limited):
    emulator, sm_client, _ = limited
    add(sm_client)
    add(sm_client)
    sm_client.disable_secret_version(name=f"{SECRET}/versions/1")
    secret_etag = sm_client.get_secret(name=SECRET).etag
    version_etag = sm_client.get_secret_version(name=f"{SECRET}/versions/1").etag

    with pytest.raises(exceptions.ResourceExhausted, match=re.escape(CANONICAL)):
        add(sm_client, b"refused")
    with pytest.raises(exceptions.ResourceExhausted):
        sm_client.update_secret(
            secret={"name": SECRET, "labels": {"a": "b"}}, update_mask={"paths": ["labels"]}
        )
    with pytest.raises(exceptions.ResourceExhausted, match=re.escape(f"{CANONICAL}/versions/1")):
        sm_client.enable_secret_version(name=f"{SECRET}/versions/1")

    assert len(emulator.version_states(SECRET)) == 62
    assert emulator.version_states(SECRET)[1] == "DISABLED"
    got = sm_client.get_secret(name=SECRET)
    assert (got.etag, dict(got.labels)) == (secret_etag, {})
    assert sm_client.get_secret_version(name=f"{SECRET}/versions/1").etag == version_etag


def test_concurrent_changes_to_one_version_are_counted_one_at_a_time(limited):
    _, sm_client, _ = limited
    start = threading.Barrier(10)

    def disable(_):
        start.wait()
        try:
            sm_client.disable_secret_version(name=f"{SECRET}/versions/1")
        except exceptions.ResourceExhausted:
            return EXHAUSTED
        return OK

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(disable, range(10)))

    assert sorted(results) == [EXHAUSTED] * 9 + [OK]


def test_rate_limits_are_on_by_default_and_can_be_switched_off():
    with SecretManagerEmulator(monotonic=lambda: 0.0) as emu:
        emu.create_secret("projects/p/secrets/s")
        sm_client, channel = connect(emu.address)
        on_by_default = emu.rate_limits
        add(sm_client, parent="projects/p/secrets/s")
        add(sm_client, parent="projects/p/secrets/s")
        with pytest.raises(exceptions.ResourceExhausted):
            add(sm_client, parent="projects/p/secrets/s")

        emu.rate_limits = False
        add(sm_client, parent="projects/p/secrets/s")
        channel.close()

    assert on_by_default is True
    assert SecretManagerEmulator(rate_limits=False).rate_limits is False


def test_scheduling_destroys_count_against_the_version_limit(limited):
    """A destroy under a version_destroy_ttl is a DestroySecretVersion call like any other."""
    emulator, _, _ = limited
    emulator.set_version_destroy_ttl(SECRET, timedelta(days=7))

    results = outcomes(
        limited,
        [
            (0, state_change("destroy", 1)),
            (0.5, state_change("destroy", 1)),
            (0.5, state_change("enable", 1)),
            (0.5, state_change("destroy", 2)),
            (1.0, state_change("enable", 1)),
        ],
    )

    assert results == [OK, EXHAUSTED, EXHAUSTED, OK, OK]
    assert emulator.version_states(SECRET)[1] == "ENABLED"
    assert emulator.version_states(SECRET)[2] == "DISABLED"


# --- customer-managed encryption keys -------------------------------------------------------------
# "Enable customer-managed encryption keys (CMEK) for Secret Manager": "If you temporarily
# disable or permanently destroy the CMEK key, the data encrypted with that key cannot be
# decrypted". The version's state is untouched; only access fails.

GLOBAL_KEY = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
OTHER_KEY = "projects/p/locations/global/keyRings/r/cryptoKeys/k2"
EAST_KEY = "projects/p/locations/us-east1/keyRings/r/cryptoKeys/k"


def automatic(key):
    return {"replication": {"automatic": {"customer_managed_encryption": {"kms_key_name": key}}}}


def user_managed(location, key):
    replica = {"location": location, "customer_managed_encryption": {"kms_key_name": key}}
    return {"replication": {"user_managed": {"replicas": [replica]}}}


@pytest.mark.parametrize(
    ("secret", "valid"),
    [
        pytest.param(automatic(GLOBAL_KEY), True, id="automatic-global"),
        pytest.param(automatic(EAST_KEY), False, id="automatic-not-global"),
        pytest.param(user_managed("us-east1", EAST_KEY), True, id="replica-same-location"),
        pytest.param(user_managed("europe-west1", EAST_KEY), False, id="replica-other-location"),
        pytest.param(automatic("projects/p/keyRings/r/cryptoKeys/k"), False, id="no-location"),
        pytest.param(automatic(f"{GLOBAL_KEY}/cryptoKeyVersions/1"), False, id="key-version"),
        pytest.param(automatic(""), False, id="empty"),
    ],
)
def test_replication_cmek_keys_are_crypto_keys_in_the_data_location(client, secret, valid):
    assert (
        accepted(
            lambda **fields: client.create_secret(
                parent=f"projects/{PROJECT}", secret_id="s", secret=fields
            ),
            **secret,
        )
        is valid
    )


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        pytest.param(GLOBAL_KEY, True, id="crypto-key"),
        pytest.param(EAST_KEY, True, id="any-location"),
        pytest.param("projects/p/locations/global/keyRings/r", False, id="key-ring"),
        pytest.param("", False, id="empty"),
    ],
)
def test_customer_managed_encryption_names_a_crypto_key(write, key, valid):
    assert accepted(write, customer_managed_encryption={"kms_key_name": key}) is valid


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        pytest.param(automatic(GLOBAL_KEY), GLOBAL_KEY, id="automatic"),
        pytest.param(user_managed("us-east1", EAST_KEY), EAST_KEY, id="user-managed-replica"),
        pytest.param(
            {"customer_managed_encryption": {"kms_key_name": EAST_KEY}}, EAST_KEY, id="secret"
        ),
        pytest.param(
            {
                "replication": {
                    "user_managed": {
                        "replicas": [
                            {"location": "us-east1"},
                            {
                                "location": "global",
                                "customer_managed_encryption": {"kms_key_name": GLOBAL_KEY},
                            },
                        ]
                    }
                }
            },
            GLOBAL_KEY,
            id="one-of-two-replicas",
        ),
    ],
)
def test_an_unusable_cmek_key_fails_access_while_the_version_stays_enabled(
    client, emulator, secret, key
):
    client.create_secret(parent=f"projects/{PROJECT}", secret_id="momento-key", secret=secret)
    add(client)

    emulator.set_kms_key_enabled(key, False)

    with pytest.raises(exceptions.FailedPrecondition) as raised:
        client.access_secret_version(name=f"{SECRET}/versions/latest")
    assert key in raised.value.message
    assert client.get_secret_version(name=f"{SECRET}/versions/1").state.name == "ENABLED"
    enabled = client.list_secret_versions(request={"parent": SECRET, "filter": "state:ENABLED"})
    assert version_numbers(enabled) == [1]


def test_enabling_the_cmek_key_again_restores_access(client, emulator):
    emulator.create_secret(SECRET, kms_key_name=GLOBAL_KEY)
    add(client, b"key")
    emulator.set_kms_key_enabled(GLOBAL_KEY, False)

    emulator.set_kms_key_enabled(GLOBAL_KEY, True)

    assert client.access_secret_version(name=f"{SECRET}/versions/1").payload.data == b"key"


def test_versions_can_be_added_under_an_unusable_cmek_key(client, emulator):
    """Undocumented (the docs speak of decrypting only); the emulator accepts the version."""
    emulator.create_secret(SECRET, kms_key_name=GLOBAL_KEY)
    emulator.set_kms_key_enabled(GLOBAL_KEY, False)

    added = add(client)

    assert added.state.name == "ENABLED"


def test_a_cmek_change_applies_only_to_versions_added_afterwards(client, emulator, secret):
    """Documented: encryption updates "do not apply retroactively to existing SecretVersions"."""

    def set_key(key):
        client.update_secret(
            secret={"name": secret, "customer_managed_encryption": {"kms_key_name": key}},
            update_mask={"paths": ["customer_managed_encryption"]},
        )

    add(client)  # Google default encryption
    set_key(GLOBAL_KEY)
    add(client)
    set_key(OTHER_KEY)
    add(client)

    emulator.set_kms_key_enabled(GLOBAL_KEY, False)

    readable = {}
    for number in (1, 2, 3):
        try:
            client.access_secret_version(name=f"{SECRET}/versions/{number}")
        except exceptions.FailedPrecondition:
            readable[number] = False
        else:
            readable[number] = True
    assert readable == {1: True, 2: False, 3: True}


# --- other RPCs -----------------------------------------------------------------------------


def test_rpcs_that_are_not_emulated_are_unimplemented(client, secret):
    with pytest.raises(exceptions.MethodNotImplemented):
        client.get_iam_policy(request={"resource": secret})


# --- fault injection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "exception"),
    [
        pytest.param(grpc.StatusCode.UNAVAILABLE, exceptions.ServiceUnavailable, id="unavailable"),
        pytest.param(grpc.StatusCode.RESOURCE_EXHAUSTED, exceptions.ResourceExhausted, id="quota"),
        pytest.param(
            grpc.StatusCode.PERMISSION_DENIED, exceptions.PermissionDenied, id="permission"
        ),
        pytest.param(grpc.StatusCode.INTERNAL, exceptions.InternalServerError, id="internal"),
    ],
)
def test_injected_faults_reach_the_client_as_api_core_exceptions(
    client, emulator, secret, code, exception
):
    emulator.inject_fault("AddSecretVersion", code, message="try later")

    with pytest.raises(exception, match="try later"):
        add(client)


def test_injected_unavailable_on_access_reaches_a_client_without_retry(client, emulator, secret):
    """The client retries UNAVAILABLE on access by default, so turn that off to see it."""
    add(client)
    emulator.inject_fault("AccessSecretVersion", grpc.StatusCode.UNAVAILABLE)

    with pytest.raises(exceptions.ServiceUnavailable):
        client.access_secret_version(name=f"{SECRET}/versions/latest", retry=None)


def test_faults_fire_the_given_number_of_times_before_any_state_changes(client, emulator, secret):
    emulator.inject_fault("AddSecretVersion", grpc.StatusCode.UNAVAILABLE, times=2)

    for _ in range(2):
        with pytest.raises(exceptions.ServiceUnavailable):
            add(client)
    added = add(client)

    assert added.name == f"{CANONICAL}/versions/1"
    assert emulator.calls["AddSecretVersion"] == 3


def test_a_fault_with_times_minus_one_lasts_until_cleared(client, emulator, secret):
    emulator.inject_fault("GetSecret", grpc.StatusCode.INTERNAL, times=-1)
    for _ in range(3):
        with pytest.raises(exceptions.InternalServerError):
            client.get_secret(name=secret)

    emulator.clear_faults()

    assert client.get_secret(name=secret).name == secret


def test_faults_only_affect_their_method(client, emulator, secret):
    emulator.inject_fault("AddSecretVersion", grpc.StatusCode.INTERNAL)

    assert client.get_secret(name=secret).name == secret
    assert emulator.calls["GetSecret"] == 1


def test_a_delayed_fault_trips_the_client_deadline(client, emulator, secret):
    emulator.inject_fault("GetSecret", grpc.StatusCode.UNAVAILABLE, delay=0.5)

    with pytest.raises(exceptions.DeadlineExceeded):
        client.get_secret(name=secret, timeout=0.1)


def test_an_ok_fault_only_delays_so_a_timed_out_write_can_still_land(client, emulator, secret):
    """The ambiguous timeout: the client gives up, yet the version is added afterwards."""
    emulator.inject_fault("AddSecretVersion", grpc.StatusCode.OK, delay=0.3)

    with pytest.raises(exceptions.DeadlineExceeded):
        client.add_secret_version(parent=SECRET, payload={"data": b"late"}, timeout=0.05)

    deadline = time.monotonic() + 5
    while not emulator.version_states(secret) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert emulator.version_states(secret) == {1: "ENABLED"}
    assert emulator.payload(secret) == b"late"


def test_inject_fault_rejects_unknown_rpc_names(emulator):
    with pytest.raises(ValueError, match="AddSecretVersions"):
        emulator.inject_fault("AddSecretVersions", grpc.StatusCode.INTERNAL)


# --- test hooks -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [SECRET, CANONICAL], ids=["by-id", "by-number"])
def test_hooks_accept_the_project_id_or_number(emulator, name):
    created = emulator.create_secret(name, annotations={"a": "1"})
    version = emulator.add_version(name, b"data")

    assert created == CANONICAL
    assert version == f"{CANONICAL}/versions/1"
    assert emulator.version_states(name) == {1: "ENABLED"}
    assert emulator.payload(name) == b"data"
    assert emulator.annotations(name) == {"a": "1"}


def test_add_version_hook_seeds_state_and_create_time(client, emulator, secret):
    emulator.add_version(secret, b"x", create_time=utc(3), state="DISABLED")

    version = client.get_secret_version(name=f"{SECRET}/versions/1")

    assert version.state.name == "DISABLED"
    assert version.create_time == utc(3)


def test_set_kms_key_enabled_takes_a_crypto_key_name(emulator):
    with pytest.raises(ValueError, match="cryptoKeys"):
        emulator.set_kms_key_enabled("projects/p/locations/global/keyRings/r", False)


def test_hooks_raise_emulator_errors_for_missing_secrets(emulator):
    with pytest.raises(EmulatorError) as raised:
        emulator.payload(MISSING)

    assert raised.value.code is grpc.StatusCode.NOT_FOUND


def test_calls_count_every_rpc_received(client, emulator, secret):
    add(client)
    client.access_secret_version(name=f"{SECRET}/versions/1")
    client.access_secret_version(name=f"{SECRET}/versions/1")

    assert emulator.calls["AddSecretVersion"] == 1
    assert emulator.calls["AccessSecretVersion"] == 2


def test_a_port_in_use_is_refused_rather_than_shared(emulator):
    """Two emulators on one port would split requests between them (SO_REUSEPORT)."""
    port = int(emulator.address.rsplit(":", 1)[1])

    with pytest.raises(OSError, match="cannot listen"):
        SecretManagerEmulator().start(port=port)


def test_address_is_unavailable_before_start():
    with pytest.raises(RuntimeError):
        _ = SecretManagerEmulator().address


# --- command line ---------------------------------------------------------------------------


def test_module_entry_point_serves_until_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.emulators.secret_manager", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the emulator printed nothing within 20 s"
        line = process.stdout.readline()
        match = re.fullmatch(r"secret-manager emulator listening on (127\.0\.0\.1:\d+)\n", line)
        assert match, line
        sm_client, channel = connect(match.group(1))
        sm_client.create_secret(parent="projects/p", secret_id="s", secret={})
        add(sm_client, b"hello", parent="projects/p/secrets/s")
        accessed = sm_client.access_secret_version(name="projects/p/secrets/s/versions/latest")
        channel.close()

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=10) == 0
        assert accessed.payload.data == b"hello"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def test_due_rotations_are_published_and_next_rotation_time_advances() -> None:
    """At next_rotation_time, SECRET_ROTATE goes to each topic and the time moves on by the
    period (kept, though GetSecret never returns it); a rotation without a period fires once."""
    import base64  # noqa: PLC0415
    import json  # noqa: PLC0415

    clock = [NOW]
    with SecretManagerEmulator(
        project_numbers={PROJECT: NUMBER}, clock=lambda: clock[0], rate_limits=False
    ) as emu:
        periodic = emu.create_secret(SECRET)
        once = emu.create_secret(f"projects/{PROJECT}/secrets/once")
        emu.set_rotation(
            periodic,
            next_rotation_time=NOW + timedelta(hours=1),
            rotation_period=timedelta(days=7),
            topics=["projects/p/topics/a", "projects/p/topics/b"],
        )
        emu.set_rotation(
            once,
            next_rotation_time=NOW + timedelta(hours=1),
            rotation_period=timedelta(0),
            topics=["projects/p/topics/a"],
        )
        published: list[tuple[str, dict]] = []

        assert emu.publish_due_rotations(lambda t, m: published.append((t, m))) == 0
        clock[0] = NOW + timedelta(hours=2)
        assert emu.publish_due_rotations(lambda t, m: published.append((t, m))) == 2
        assert emu.publish_due_rotations(lambda t, m: published.append((t, m))) == 0

        sm_client, channel = connect(emu.address)
        try:
            secret = sm_client.get_secret(name=SECRET)
        finally:
            channel.close()
    topics = sorted(topic for topic, _ in published)
    assert topics == ["projects/p/topics/a", "projects/p/topics/a", "projects/p/topics/b"]
    message = next(m for _, m in published if m["attributes"]["secretId"] == periodic)
    assert message["attributes"]["eventType"] == "SECRET_ROTATE"
    assert periodic.startswith(f"projects/{NUMBER}/")
    assert json.loads(base64.b64decode(message["data"]))["name"] == periodic
    assert secret.rotation.next_rotation_time == NOW + timedelta(hours=1) + timedelta(days=7)


# --- regional secrets -------------------------------------------------------------------------
# Regional secrets are named projects/P/locations/L/secrets/S ("REST Resource:
# projects.locations.secrets") and served by secretmanager.L.rep.googleapis.com. The emulator is
# one server for every endpoint, so a name's location alone says where a call goes.

LOCATION = "us-central1"
REGION = f"projects/{PROJECT}/locations/{LOCATION}"
REGIONAL = f"{REGION}/secrets/momento-key"
REGIONAL_CANONICAL = f"projects/{NUMBER}/locations/{LOCATION}/secrets/momento-key"
EUROPE = f"projects/{PROJECT}/locations/europe-west4/secrets/momento-key"
CENTRAL_KEY = f"projects/p/locations/{LOCATION}/keyRings/r/cryptoKeys/k"


def test_regional_names_work_on_every_rpc_and_come_back_with_the_project_number(client):
    version = f"{REGIONAL}/versions/1"

    created = client.create_secret(parent=REGION, secret_id="momento-key", secret={})
    got = client.get_secret(name=REGIONAL)
    updated = client.update_secret(
        secret={"name": REGIONAL, "labels": {"a": "b"}}, update_mask={"paths": ["labels"]}
    )
    added = add(client, b"regional", parent=REGIONAL)
    fetched = client.get_secret_version(name=version)
    accessed = client.access_secret_version(name=f"{REGIONAL}/versions/latest")
    listed_versions = list(client.list_secret_versions(parent=REGIONAL))
    listed_secrets = list(client.list_secrets(parent=REGION))
    changed = [
        client.disable_secret_version(name=version),
        client.enable_secret_version(name=version),
        client.destroy_secret_version(name=version),
    ]
    client.delete_secret(name=REGIONAL)

    assert [created.name, got.name, updated.name] == [REGIONAL_CANONICAL] * 3
    assert [s.name for s in listed_secrets] == [REGIONAL_CANONICAL]
    assert accessed.payload.data == b"regional"
    version_names = [added.name, fetched.name, accessed.name, listed_versions[0].name]
    assert version_names + [v.name for v in changed] == [f"{REGIONAL_CANONICAL}/versions/1"] * 7
    with pytest.raises(exceptions.NotFound, match=re.escape(REGIONAL_CANONICAL)):
        client.get_secret(name=REGIONAL)


def test_the_location_in_a_name_decides_which_secret_a_call_reaches(client, emulator):
    """A global secret and regional ones with the same id are different secrets."""
    names = [SECRET, REGIONAL, EUROPE]
    for name in names:
        parent = name.removesuffix("/secrets/momento-key")
        client.create_secret(parent=parent, secret_id="momento-key", secret={})
        add(client, name.encode(), parent=name)

    client.delete_secret(name=REGIONAL)

    assert client.access_secret_version(name=f"{SECRET}/versions/1").payload.data == SECRET.encode()
    assert client.access_secret_version(name=f"{EUROPE}/versions/1").payload.data == EUROPE.encode()
    with pytest.raises(exceptions.NotFound):
        client.get_secret(name=REGIONAL)
    assert emulator.version_states(SECRET) == emulator.version_states(EUROPE) == {1: "ENABLED"}


@pytest.mark.parametrize(
    ("location", "valid"),
    [
        pytest.param("us-central1", True, id="us-central1"),
        pytest.param("me-central2", True, id="me-central2"),
        pytest.param("eu", True, id="multi-region-style"),
        pytest.param("a" * 63, True, id="63-chars"),
        pytest.param("a" * 64, False, id="64-chars"),
        pytest.param("US-CENTRAL1", False, id="uppercase"),
        pytest.param("us_central1", False, id="underscore"),
        pytest.param("us.central1", False, id="dot"),
        pytest.param("1us", False, id="starts-with-a-digit"),
        pytest.param("us-central1-", False, id="ends-with-a-hyphen"),
        pytest.param("-us", False, id="starts-with-a-hyphen"),
    ],
)
def test_location_ids_are_lowercase_dns_labels(client, location, valid):
    name = f"projects/{PROJECT}/locations/{location}/secrets/s"

    if valid:
        with pytest.raises(exceptions.NotFound):
            client.get_secret(name=name)
    else:
        with pytest.raises(exceptions.InvalidArgument, match=re.escape(repr(location))):
            client.get_secret(name=name)


BAD_LOCATION = f"projects/{PROJECT}/locations/US_CENTRAL1"
BAD_SECRET = f"{BAD_LOCATION}/secrets/s"
BAD_VERSION = f"{BAD_SECRET}/versions/1"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda c: c.create_secret(parent=BAD_LOCATION, secret_id="s", secret={}), id="create"
        ),
        pytest.param(lambda c: list(c.list_secrets(parent=BAD_LOCATION)), id="list-secrets"),
        pytest.param(lambda c: c.get_secret(name=BAD_SECRET), id="get"),
        pytest.param(lambda c: update_labels(c, BAD_SECRET), id="update"),
        pytest.param(lambda c: c.delete_secret(name=BAD_SECRET), id="delete"),
        pytest.param(
            lambda c: add(c, b"x" * (MAX_PAYLOAD_BYTES + 1), parent=BAD_SECRET), id="add-oversized"
        ),
        pytest.param(lambda c: c.get_secret_version(name=BAD_VERSION), id="get-version"),
        pytest.param(lambda c: c.access_secret_version(name=BAD_VERSION), id="access"),
        pytest.param(lambda c: list(c.list_secret_versions(parent=BAD_SECRET)), id="list-versions"),
        pytest.param(state_change("enable", 1, BAD_SECRET), id="enable"),
        pytest.param(state_change("disable", 1, BAD_SECRET), id="disable"),
        pytest.param(state_change("destroy", 1, BAD_SECRET), id="destroy"),
    ],
)
def test_every_rpc_names_a_bad_location_before_any_other_check(client, call):
    with pytest.raises(exceptions.InvalidArgument, match=r"'US_CENTRAL1' .* is not a location id"):
        call(client)


def test_hooks_refuse_a_bad_location(emulator):
    with pytest.raises(EmulatorError) as raised:
        emulator.create_secret(BAD_SECRET)

    assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "US_CENTRAL1" in raised.value.message


def test_list_secrets_is_per_location(client, emulator):
    for name in [SECRET, f"projects/{PROJECT}/secrets/other", REGIONAL, EUROPE]:
        emulator.create_secret(name)

    def listed(parent):
        pager = client.list_secrets(parent=parent)
        return sorted(s.name for s in pager), pager.total_size

    assert listed(f"projects/{PROJECT}") == (
        [CANONICAL, f"projects/{NUMBER}/secrets/other"],
        2,
    )
    assert listed(REGION) == ([REGIONAL_CANONICAL], 1)
    assert listed(f"projects/{PROJECT}/locations/asia-east1") == ([], 0)


def test_regional_secrets_have_no_replication(client):
    """The regional Secret resource has no replication field, and its versions no status."""
    with pytest.raises(exceptions.InvalidArgument, match="replication"):
        client.create_secret(
            parent=REGION, secret_id="s", secret={"replication": {"automatic": {}}}
        )

    created = client.create_secret(parent=REGION, secret_id="s", secret={})
    added = add(client, parent=created.name)

    assert "replication" not in created
    assert "replication_status" not in added


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        pytest.param(CENTRAL_KEY, True, id="same-location"),
        pytest.param(EAST_KEY, False, id="other-region"),
        pytest.param(GLOBAL_KEY, False, id="global"),
    ],
)
@pytest.mark.parametrize("how", ["create", "update"])
def test_a_regional_cmek_key_must_be_in_the_secrets_location(client, emulator, key, valid, how):
    encryption = {"customer_managed_encryption": {"kms_key_name": key}}

    def send():
        if how == "create":
            return client.create_secret(parent=REGION, secret_id="momento-key", secret=encryption)
        emulator.create_secret(REGIONAL)
        return client.update_secret(
            secret={"name": REGIONAL, **encryption},
            update_mask={"paths": ["customer_managed_encryption"]},
        )

    if valid:
        assert send().customer_managed_encryption.kms_key_name == key
    else:
        with pytest.raises(exceptions.InvalidArgument, match=LOCATION):
            send()


def test_regional_secrets_follow_the_same_field_rules(client, emulator):
    """Spot checks: the field rules above apply to regional secrets as to global ones."""
    emulator.create_secret(REGIONAL)
    add(client, b"one", parent=REGIONAL)
    emulator.set_version_aliases(REGIONAL, {"current": 1})
    stale = client.get_secret(name=REGIONAL).etag
    update_labels(client, REGIONAL)

    with pytest.raises(exceptions.FailedPrecondition):
        client.delete_secret(request={"name": REGIONAL, "etag": stale})
    with pytest.raises(exceptions.InvalidArgument):
        client.update_secret(
            secret={"name": REGIONAL, "annotations": {"bad/key": "x"}},
            update_mask={"paths": ["annotations"]},
        )
    with pytest.raises(exceptions.InvalidArgument):
        client.update_secret(
            secret={"name": REGIONAL, "ttl": duration_pb2.Duration(seconds=59)},
            update_mask={"paths": ["ttl"]},
        )
    assert client.access_secret_version(name=f"{REGIONAL}/versions/current").payload.data == b"one"


def test_regional_secrets_have_their_own_rate_limits():
    """Regional: 80/s per secret (add, update) and 50/s per version (enable, disable, destroy);
    the global secret with the same id keeps its 2/s."""
    ticks = Ticks()
    with SecretManagerEmulator(project_numbers={PROJECT: NUMBER}, monotonic=ticks) as emu:
        for name in (SECRET, REGIONAL):
            emu.create_secret(name)
            emu.add_version(name, b"x")
        sm_client, channel = connect(emu.address)

        def outcome(call):
            try:
                call(sm_client)
            except exceptions.ResourceExhausted:
                return EXHAUSTED
            return OK

        regional_adds = [outcome(lambda c: add(c, parent=REGIONAL)) for _ in range(81)]
        global_adds = [outcome(lambda c: add(c, parent=SECRET)) for _ in range(3)]
        regional_changes = [outcome(state_change("disable", 1, REGIONAL)) for _ in range(51)]
        ticks.now += 1.0
        after_a_second = [
            outcome(lambda c: add(c, parent=REGIONAL)),
            outcome(state_change("enable", 1, REGIONAL)),
        ]
        channel.close()

    assert regional_adds == [OK] * 80 + [EXHAUSTED]
    assert global_adds == [OK, OK, EXHAUSTED]
    assert regional_changes == [OK] * 50 + [EXHAUSTED]
    assert after_a_second == [OK, OK]


@pytest.fixture
def central_only():
    """Serves us-central1 only; a europe-west4 secret was seeded (hooks skip the check)."""
    with SecretManagerEmulator(
        project_numbers={PROJECT: NUMBER}, rate_limits=False, locations=[LOCATION]
    ) as emu:
        emu.create_secret(EUROPE)
        emu.add_version(EUROPE, b"x")
        sm_client, channel = connect(emu.address)
        yield emu, sm_client
        channel.close()


EUROPE_PARENT = f"projects/{PROJECT}/locations/europe-west4"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda c: c.create_secret(parent=EUROPE_PARENT, secret_id="s", secret={}), id="create"
        ),
        pytest.param(lambda c: list(c.list_secrets(parent=EUROPE_PARENT)), id="list-secrets"),
        pytest.param(lambda c: c.get_secret(name=EUROPE), id="get"),
        pytest.param(lambda c: update_labels(c, EUROPE), id="update"),
        pytest.param(lambda c: c.delete_secret(name=EUROPE), id="delete"),
        pytest.param(
            lambda c: add(c, b"x" * (MAX_PAYLOAD_BYTES + 1), parent=EUROPE), id="add-oversized"
        ),
        pytest.param(lambda c: c.get_secret_version(name=f"{EUROPE}/versions/1"), id="get-version"),
        pytest.param(
            # AccessSecretVersion retries UNAVAILABLE by default (for up to 60 s).
            lambda c: c.access_secret_version(name=f"{EUROPE}/versions/1", retry=None),
            id="access",
        ),
        pytest.param(lambda c: list(c.list_secret_versions(parent=EUROPE)), id="list-versions"),
        pytest.param(state_change("enable", 1, EUROPE), id="enable"),
        pytest.param(state_change("disable", 1, EUROPE), id="disable"),
        pytest.param(state_change("destroy", 1, EUROPE), id="destroy"),
    ],
)
def test_a_location_not_served_is_unavailable_on_every_rpc(central_only, call):
    emulator, sm_client = central_only

    with pytest.raises(exceptions.ServiceUnavailable, match="europe-west4"):
        call(sm_client)

    assert emulator.version_states(EUROPE) == {1: "ENABLED"}
    assert sm_client.create_secret(parent=REGION, secret_id="s", secret={}).name.endswith("/s")


def test_served_locations_can_be_changed_and_must_be_location_ids(central_only):
    emulator, sm_client = central_only

    emulator.locations = None
    served_everywhere = sm_client.get_secret(name=EUROPE).name
    emulator.locations = {"europe-west4"}
    with pytest.raises(exceptions.ServiceUnavailable):
        sm_client.get_secret(name=REGIONAL)

    assert served_everywhere == f"projects/{NUMBER}/locations/europe-west4/secrets/momento-key"
    assert emulator.locations == frozenset({"europe-west4"})
    assert SecretManagerEmulator().locations is None
    with pytest.raises(ValueError, match="US"):
        SecretManagerEmulator(locations=["us-central1", "US"])
    with pytest.raises(TypeError):
        SecretManagerEmulator(locations="us-central1")


def test_get_location_answers_for_served_locations_only(central_only):
    _, sm_client = central_only

    served = sm_client.get_location(request={"name": REGION})

    assert (served.name, served.location_id) == (
        f"projects/{NUMBER}/locations/{LOCATION}",
        LOCATION,
    )
    with pytest.raises(exceptions.NotFound, match="europe-west4"):
        sm_client.get_location(request={"name": EUROPE_PARENT})
    with pytest.raises(exceptions.InvalidArgument, match="US_CENTRAL1"):
        sm_client.get_location(request={"name": BAD_LOCATION})


def test_list_locations_lists_the_served_locations_in_pages():
    served = ["us-east1", "europe-west4", "us-central1"]
    with SecretManagerEmulator(project_numbers={PROJECT: NUMBER}, locations=served) as emu:
        sm_client, channel = connect(emu.address)
        pages, token = [], ""
        while True:
            response = sm_client.list_locations(
                request={"name": f"projects/{PROJECT}", "page_size": 2, "page_token": token}
            )
            pages.append([loc.location_id for loc in response.locations])
            token = response.next_page_token
            if not token:
                break
        channel.close()

    assert pages == [["europe-west4", "us-central1"], ["us-east1"]]


def test_with_every_location_served_list_locations_lists_the_locations_in_use(client, emulator):
    """Every well-formed id is served then, which no list can hold."""
    for name in [SECRET, REGIONAL, EUROPE, f"projects/other/locations/{LOCATION}/secrets/s"]:
        emulator.create_secret(name)

    response = client.list_locations(request={"name": f"projects/{PROJECT}"})

    assert [loc.name for loc in response.locations] == [
        f"projects/{NUMBER}/locations/europe-west4",
        f"projects/{NUMBER}/locations/{LOCATION}",
    ]


def test_due_rotations_of_regional_secrets_carry_the_regional_name() -> None:
    clock = [NOW]
    with SecretManagerEmulator(project_numbers={PROJECT: NUMBER}, clock=lambda: clock[0]) as emu:
        for name in (SECRET, REGIONAL):
            emu.create_secret(name)
            emu.set_rotation(
                name,
                next_rotation_time=NOW + timedelta(hours=1),
                rotation_period=timedelta(days=1),
                topics=["projects/p/topics/rotate"],
            )
        clock[0] = NOW + timedelta(hours=2)
        published: list[dict] = []
        due = emu.publish_due_rotations(lambda _topic, message: published.append(message))

    assert due == 2
    assert sorted(m["attributes"]["secretId"] for m in published) == [
        REGIONAL_CANONICAL,
        CANONICAL,
    ]
    assert {m["attributes"]["eventType"] for m in published} == {"SECRET_ROTATE"}


def test_hooks_take_regional_names(client, emulator):
    created = emulator.create_secret(REGIONAL, annotations={"a": "1"}, kms_key_name=CENTRAL_KEY)
    version = emulator.add_version(REGIONAL, b"data")
    emulator.set_annotations(REGIONAL, {"b": "2"})
    emulator.set_expire_time(REGIONAL, NOW + timedelta(days=365 * 50))
    emulator.set_kms_key_enabled(CENTRAL_KEY, False)

    assert (created, version) == (REGIONAL_CANONICAL, f"{REGIONAL_CANONICAL}/versions/1")
    assert emulator.version_states(REGIONAL) == {1: "ENABLED"}
    assert emulator.payload(REGIONAL) == b"data"
    assert emulator.annotations(REGIONAL) == {"b": "2"}
    assert client.get_secret(name=REGIONAL).customer_managed_encryption.kms_key_name == CENTRAL_KEY
    with pytest.raises(exceptions.FailedPrecondition, match="cryptoKeys/k"):
        client.access_secret_version(name=f"{REGIONAL}/versions/1")
    with pytest.raises(EmulatorError, match="NOT_FOUND"):
        emulator.payload(EUROPE)
