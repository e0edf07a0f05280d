"""The Momento adapter: refresh a key through ``auth.Auth/RefreshApiToken``, and check a key works.

Momento's Python SDK has no refresh method (client-sdk-python#444), so this calls the RPC with
the generated stubs from ``momento-wire-types``, on the control endpoint over TLS as the other
SDKs do. ``momento`` names the error codes; the key's endpoint comes from
:mod:`momento_key_common.token`.

This module imports Momento's packages at import time on purpose: :mod:`rotation.service.runtime`
imports it only when a key actually needs refreshing, so a run with nothing to do never pays for
them.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import grpc
from momento.errors import MomentoErrorCode
from momento.errors.error_converter import convert_error
from momento.internal.services import Service
from momento_wire_types import auth_pb2, auth_pb2_grpc, controlclient_pb2, controlclient_pb2_grpc

from momento_key_common.errors import (
    ErrorCode,
    MomentoAuthenticationError,
    MomentoError,
    MomentoTimeoutError,
    TokenDocumentError,
)
from momento_key_common.redact import scrub
from momento_key_common.token import ApiKey, RefreshedKey
from rotation.rules.ports import Verification

_TLS_PORT = 443


# Momento's error code -> (our code, what it means for the operator).
_MEANING: dict[MomentoErrorCode, tuple[ErrorCode, str]] = {
    MomentoErrorCode.AUTHENTICATION_ERROR: (
        ErrorCode.AUTHENTICATION,
        "Momento did not accept the key or refresh token (the refresh token may already have "
        "been used, or belong to another key); if no newer version holds a working key, create "
        "a new key in the Momento console and add it as a new version",
    ),
    MomentoErrorCode.INVALID_ARGUMENT_ERROR: (
        ErrorCode.INVALID_ARGUMENT,
        "Momento rejected the refresh request; check that the secret holds a refreshable "
        "(v1) Momento key and its refresh token",
    ),
    MomentoErrorCode.PERMISSION_ERROR: (
        ErrorCode.PERMISSION_DENIED,
        "the key is not allowed to refresh itself; create a new key in the Momento console",
    ),
    MomentoErrorCode.SERVER_UNAVAILABLE: (
        ErrorCode.UNAVAILABLE,
        "Momento is unavailable; run again later",
    ),
    MomentoErrorCode.TIMEOUT_ERROR: (
        ErrorCode.TIMEOUT,
        "Momento did not answer in time; run again later",
    ),
    MomentoErrorCode.LIMIT_EXCEEDED_ERROR: (
        ErrorCode.LIMIT_EXCEEDED,
        "Momento rate-limited the call; run again later",
    ),
    # INTERNAL is transient everywhere (momento_key_common.grpc_status): the same call may work
    # later.
    MomentoErrorCode.INTERNAL_SERVER_ERROR: (
        ErrorCode.MOMENTO_INTERNAL,
        "Momento failed internally; run again later",
    ),
}


class MomentoAuthClient:
    """KeyRefresher over Momento's gRPC API. One channel per control endpoint, reused."""

    def __init__(self, *, control_endpoint: str | None, insecure: bool, timeout: timedelta) -> None:
        self._override = control_endpoint
        self._insecure = insecure
        self._timeout = timeout.total_seconds()
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()

    def refresh(self, key: ApiKey, refresh_token: str) -> RefreshedKey:
        stub = auth_pb2_grpc.AuthStub(self._channel(key))  # type: ignore[no-untyped-call]
        request = auth_pb2._RefreshApiTokenRequest(api_key=key.jwt, refresh_token=refresh_token)
        try:
            response = stub.RefreshApiToken(
                request, timeout=self._timeout, metadata=(("authorization", key.jwt),)
            )
        except grpc.RpcError as error:
            raise _momento_error("refresh the key", error, endpoint=self._override) from None
        if not response.api_key:
            raise MomentoError(
                "Momento answered the refresh without a new key; the stored key is unchanged. "
                "Run again later, and if Momento then refuses the refresh token, create a new "
                "key in the Momento console",
                code=ErrorCode.INVALID_RESPONSE,
            )
        # An empty refresh_token is passed on, not refused: the new key must still be stored.
        return RefreshedKey(
            jwt=response.api_key,
            refresh_token=response.refresh_token,
            endpoint=response.endpoint or key.endpoint or "",
            valid_until=int(response.valid_until) or None,
        )

    def verify(self, key: ApiKey) -> Verification:
        """Authenticate with ``key`` by listing caches: cheap, read-only, needs no cache name."""
        stub = controlclient_pb2_grpc.ScsControlStub(self._channel(key))  # type: ignore[no-untyped-call]
        try:
            stub.ListCaches(
                controlclient_pb2._ListCachesRequest(),
                timeout=self._timeout,
                metadata=(("authorization", key.jwt),),
            )
        except grpc.RpcError as error:
            code = error.code()
            if code == grpc.StatusCode.UNAUTHENTICATED:
                return Verification.REJECTED
            # A fine-grained key may not list caches, but it did authenticate to be told so.
            if code == grpc.StatusCode.PERMISSION_DENIED:
                return Verification.AUTHENTICATES
            return Verification.UNKNOWN
        return Verification.AUTHENTICATES

    def _channel(self, key: ApiKey) -> grpc.Channel:
        target = self._override or f"{_control_host(key)}:{_TLS_PORT}"
        with self._lock:
            channel = self._channels.get(target)
            if channel is None:
                if self._override and self._insecure:
                    channel = grpc.insecure_channel(target)
                else:
                    channel = grpc.secure_channel(target, grpc.ssl_channel_credentials())
                self._channels[target] = channel
            return channel


def _control_host(key: ApiKey) -> str:
    # The SDKs derive control.<E> from the key's endpoint E; the key is already parsed
    # (momento_key_common.token), so momento's deprecated from_string is not needed.
    if not key.endpoint:
        raise TokenDocumentError(
            "the stored key names no endpoint, so Momento's control endpoint is unknown; check "
            "that the secret holds a v1 Momento API key, or set MOMENTO_CONTROL_ENDPOINT"
        )
    return f"control.{key.endpoint}"


# Kinds that the rotation branches on get their own class.
_KINDS: dict[ErrorCode, type[MomentoError]] = {
    ErrorCode.AUTHENTICATION: MomentoAuthenticationError,
    ErrorCode.TIMEOUT: MomentoTimeoutError,
}


def _momento_error(action: str, error: grpc.RpcError, *, endpoint: str | None) -> MomentoError:
    converted: Any = convert_error(error, Service.AUTH)
    error_code = getattr(converted, "error_code", MomentoErrorCode.UNKNOWN_ERROR)
    code, meaning = _MEANING.get(error_code, (ErrorCode.MOMENTO_ERROR, "run again later"))
    if code is ErrorCode.UNAVAILABLE and endpoint:
        # An override is nearly always a local emulator: say where, rather than "later".
        meaning = (
            f"is anything serving MOMENTO_CONTROL_ENDPOINT={endpoint}? Start the Momento "
            "emulator there (./dev.sh serve starts one), or unset the variable"
        )
    detail = scrub(str(error.details() or "no detail"))
    kind = _KINDS.get(code, MomentoError)
    return kind(f"could not {action}: Momento said {detail!r}; {meaning}", code=code)
