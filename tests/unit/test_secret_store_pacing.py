"""The real Secret Manager client sends every call through the pacer, with Google's defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import google.auth
import pytest
from google.auth.credentials import AnonymousCredentials

from momento_key_common.errors import SecretStoreError
from rotation.adapters.pacing import Pacer, QuotaKind, grpc_interceptor
from rotation.adapters.secret_store import GoogleSecretStore
from rotation.rules.retention import VersionInfo

REGIONAL_HOST = "secretmanager.us-central1.rep.googleapis.com:443"


def test_the_production_client_is_paced_and_keeps_googles_endpoint(monkeypatch) -> None:
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), "p"))
    pacer = Pacer(reads_per_minute=10, writes_per_minute=10)
    store = GoogleSecretStore(
        emulator_host=None, deadline=timedelta(milliseconds=1), interceptor=grpc_interceptor(pacer)
    )
    assert store.client_for("projects/p/secrets/s")._transport._host == (
        "secretmanager.googleapis.com:443"
    )
    with pytest.raises(SecretStoreError):  # offline, and a 1 ms deadline: it never gets far
        store.get_metadata("projects/p/secrets/s")
    assert pacer.sent_in_window(QuotaKind.READ) >= 1


@pytest.mark.parametrize(
    ("resource", "host"),
    [
        ("projects/p/secrets/s", "secretmanager.googleapis.com:443"),
        ("projects/p/secrets/s/versions/3", "secretmanager.googleapis.com:443"),
        ("projects/p", "secretmanager.googleapis.com:443"),
        ("projects/p/locations/us-central1/secrets/s", REGIONAL_HOST),
        ("projects/123/locations/us-central1/secrets/s/versions/latest", REGIONAL_HOST),
        ("projects/p/locations/us-central1", REGIONAL_HOST),
        (
            "projects/p/locations/europe-west4/secrets/s",
            "secretmanager.europe-west4.rep.googleapis.com:443",
        ),
    ],
)
def test_each_secret_is_served_by_the_client_for_its_location(
    monkeypatch, resource: str, host: str
) -> None:
    """Without an emulator, the product builds one client per location, each for its endpoint;
    a regional secret is served only by secretmanager.LOCATION.rep.googleapis.com."""
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), "p"))
    pacer = Pacer(reads_per_minute=10, writes_per_minute=10)
    store = GoogleSecretStore(
        emulator_host=None, deadline=timedelta(seconds=1), interceptor=grpc_interceptor(pacer)
    )
    client = store.client_for(resource)
    assert client._transport._host == host
    assert store.client_for(resource) is client, "built once"


class RoutedError(Exception):
    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


class Recorder:
    """A client that says which one it is, whatever is called."""

    def __init__(self, where: str) -> None:
        self.where = where

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            raise RoutedError(self.where)

        return call


@pytest.mark.parametrize(
    "call",
    [
        lambda store, s: store.read_latest(s),
        lambda store, s: store.get_metadata(s),
        lambda store, s: store.get_version(f"{s}/versions/latest"),
        lambda store, s: store.add_version(s, b"{}"),
        lambda store, s: store.list_versions(s),
        lambda store, s: store.list_labelled("projects/p/locations/us-central1", "k", "v"),
        lambda store, s: store.replace_annotations(s, {}, "etag"),
        lambda store, s: store.disable(
            VersionInfo(f"{s}/versions/1", 1, datetime.now(UTC)), deadline=timedelta(seconds=1)
        ),
        lambda store, s: store.destroy(
            VersionInfo(f"{s}/versions/1", 1, datetime.now(UTC)), deadline=timedelta(seconds=1)
        ),
    ],
    ids=[
        "access",
        "get",
        "get-version",
        "add",
        "list",
        "list-secrets",
        "update",
        "disable",
        "destroy",
    ],
)
def test_no_call_on_a_regional_secret_goes_to_the_global_client(monkeypatch, call) -> None:
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), "p"))
    store = GoogleSecretStore(emulator_host=None, deadline=timedelta(seconds=1))
    store._clients.update({None: Recorder("global"), "us-central1": Recorder("us-central1")})
    with pytest.raises(RoutedError) as routed:
        call(store, "projects/p/locations/us-central1/secrets/s")
    assert routed.value.where == "us-central1"
