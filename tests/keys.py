"""Keys for tests, minted without a server: Momento-shaped API keys, and Google service
account key files whose token endpoint is a local fake."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devtools.emulators.momento import sign_jwt, wrap_v1

ENDPOINT = "cell-1.example.momentohq.com"
_SIGNING_KEY = b"unit-test-signing-key"


def jwt(**claims: Any) -> str:
    return sign_jwt(_SIGNING_KEY, {"sub": "unit-test", "ver": 1, **claims})


def v1_key(exp: int | None = None, **claims: Any) -> str:
    if exp is not None:
        claims["exp"] = exp
    return wrap_v1(ENDPOINT, jwt(**claims))


def legacy_key(exp: int | None = None) -> str:
    claims: dict[str, Any] = {"cp": f"control.{ENDPOINT}", "c": f"cache.{ENDPOINT}"}
    if exp is not None:
        claims["exp"] = exp
    return jwt(**claims)


def v2_key(exp: int | None = None) -> str:
    return jwt(t="g", **({} if exp is None else {"exp": exp}))


def document(**fields: Any) -> bytes:
    """A console-style token document; ``None`` values drop the field."""
    base: dict[str, Any] = {
        "apiKey": v1_key(exp=2_000_000_000),
        "refreshToken": "refresh-token-canary-0001",
        "validUntil": 2_000_000_000,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


def service_account_key(token_uri: str, email: str, project: str) -> dict[str, str]:
    """A throwaway service account key file's contents; google-auth exchanges it at token_uri."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "throwaway",
        "private_key": pem,
        "client_email": email,
        "client_id": "1",
        "token_uri": token_uri,
    }
