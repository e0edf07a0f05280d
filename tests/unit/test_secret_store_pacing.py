"""The real Secret Manager client sends every call through the pacer, with Google's defaults."""

from __future__ import annotations

from datetime import timedelta

import google.auth
import pytest
from google.auth.credentials import AnonymousCredentials

from rotation.errors import SecretStoreError
from rotation.pacing import Pacer, QuotaKind, grpc_interceptor
from rotation.secret_store import GoogleSecretStore


def test_the_production_client_is_paced_and_keeps_googles_endpoint(monkeypatch) -> None:
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), "p"))
    pacer = Pacer(reads_per_minute=10, writes_per_minute=10)
    store = GoogleSecretStore(
        emulator_host=None, deadline=timedelta(milliseconds=1), interceptor=grpc_interceptor(pacer)
    )
    assert store._client._transport._host == "secretmanager.googleapis.com:443"
    with pytest.raises(SecretStoreError):  # offline, and a 1 ms deadline: it never gets far
        store.get_metadata("projects/p/secrets/s")
    assert pacer.sent[QuotaKind.READ] >= 1
