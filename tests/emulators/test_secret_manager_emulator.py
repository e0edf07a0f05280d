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
from datetime import UTC, datetime
from pathlib import Path

import google_crc32c
import grpc
import pytest
from google.api_core import exceptions
from google.cloud.secretmanager_v1 import SecretManagerServiceClient
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)

from devtools.emulators.secret_manager import (
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


@pytest.fixture
def emulator():
    with SecretManagerEmulator(project_numbers={PROJECT: NUMBER}) as emu:
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
    "secret_id",
    [
        pytest.param("has space", id="space"),
        pytest.param("dotted.name", id="dot"),
        pytest.param("x" * 256, id="too-long"),
        pytest.param("", id="empty"),
    ],
)
def test_invalid_secret_ids_are_rejected(client, secret_id):
    with pytest.raises(exceptions.InvalidArgument):
        client.create_secret(parent=f"projects/{PROJECT}", secret_id=secret_id, secret={})


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

    with pytest.raises(exceptions.FailedPrecondition, match="etag"):
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


@pytest.mark.parametrize(
    "paths",
    [pytest.param([], id="empty-mask"), pytest.param(["name"], id="immutable-field")],
)
def test_update_secret_needs_a_mask_of_updatable_fields(client, secret, paths):
    with pytest.raises(exceptions.InvalidArgument):
        client.update_secret(
            secret={"name": secret, "labels": {"a": "b"}}, update_mask={"paths": paths}
        )


def test_deleted_secret_is_gone(client, secret):
    client.delete_secret(name=secret)

    with pytest.raises(exceptions.NotFound):
        client.get_secret(name=secret)


def test_delete_secret_with_a_stale_etag_is_failed_precondition(client, secret):
    with pytest.raises(exceptions.FailedPrecondition, match="etag"):
        client.delete_secret(request={"name": secret, "etag": '"stale"'})


def test_list_secrets_is_sorted_by_name_across_pages(client, emulator):
    for secret_id in ["c", "a", "d", "b", "e"]:
        emulator.create_secret(f"projects/{PROJECT}/secrets/{secret_id}")

    pager = client.list_secrets(request={"parent": f"projects/{PROJECT}", "page_size": 2})

    assert [s.name.rsplit("/", 1)[1] for s in pager] == ["a", "b", "c", "d", "e"]


def test_list_secrets_pages_are_at_most_page_size(client, emulator):
    for secret_id in ["a", "b", "c", "d", "e"]:
        emulator.create_secret(f"projects/{PROJECT}/secrets/{secret_id}")

    pages = client.list_secrets(request={"parent": f"projects/{PROJECT}", "page_size": 2}).pages

    assert [len(page.secrets) for page in pages] == [2, 2, 1]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        pytest.param("labels.rotate:*", ["a", "b"], id="label-present"),
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


@pytest.mark.parametrize("state", ["DISABLED", "DESTROYED"])
def test_accessing_a_version_that_is_not_enabled_is_failed_precondition(
    client, emulator, secret, state
):
    emulator.add_version(secret, b"x", state=state)

    with pytest.raises(exceptions.FailedPrecondition, match=f"is in {state} state"):
        client.access_secret_version(name=f"{SECRET}/versions/1")


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

    with pytest.raises(exceptions.FailedPrecondition, match="etag"):
        change(request={"name": f"{SECRET}/versions/1", "etag": stale})
    assert emulator.version_states(secret) == {1: "DISABLED"}


@pytest.mark.parametrize("method", ["disable", "enable"])
def test_destroyed_versions_cannot_change_state(client, emulator, secret, method):
    emulator.add_version(secret, b"x", state="DESTROYED")

    with pytest.raises(exceptions.FailedPrecondition, match="DESTROYED"):
        getattr(client, f"{method}_secret_version")(name=f"{SECRET}/versions/1")


def test_destroy_clears_the_payload_and_sets_destroy_time(client, emulator, secret):
    add(client, b"secret")

    destroyed = client.destroy_secret_version(name=f"{SECRET}/versions/1")

    assert destroyed.state.name == "DESTROYED"
    assert destroyed.destroy_time is not None
    assert "destroy_time" in destroyed
    assert emulator.payload(secret, 1) is None


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
