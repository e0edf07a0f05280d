"""A local stand-in for the two Momento RPCs the key rotation uses.

Emulated, over plaintext gRPC on localhost, with the real ``momento_wire_types`` messages:

* ``auth.Auth/RefreshApiToken``: refreshes v1 and legacy keys minted by this emulator. Refresh
  tokens are single-use; the new key lasts as long as the one presented did, counted from now;
  the old key stays valid until its own expiry. Expired keys, v2 keys, foreign keys and wrong
  or spent refresh tokens are refused with the status codes the platform notes describe.
* ``control_client.ScsControl/ListCaches``: a cheap "does this key work?" probe. It checks the
  ``authorization`` metadata and returns an empty cache list.

Not emulated: TLS, the ``control.``/``cache.`` host names (callers point their channel at
``address``), every other RPC (UNIMPLEMENTED), caches themselves, key revocation, real
permission scopes (only a "fine-grained" flag that may not list caches), persistence across
restarts, and Momento's exact error texts. Keys are HS256 JWTs (PyJWT) signed with a per-instance
random secret, so keys from one emulator are foreign to another.

Tests drive it in-process through ``MomentoEmulator`` (``issue_key``, an injectable clock,
counters, ``inject_fault``, and ``misanswer_refreshes`` for answers a broken service might give:
the same key back, a key that expires no later, no refresh token).
``python -m devtools.emulators.momento`` serves it until SIGINT or SIGTERM and can seed a
console-style key file first. Nothing here prints a key or a token.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

import grpc
import jwt
from momento_wire_types import auth_pb2, auth_pb2_grpc, controlclient_pb2, controlclient_pb2_grpc

from devtools.emulators._server import (
    EmulatorServer,
    StatusError,
    argument_parser,
    serve_until_signalled,
)
from rotation.rules.durations import parse_duration

DEFAULT_ENDPOINT: Final = "momento.emulator.local"
FORMS: Final = ("v1", "legacy", "v2")
# Momento refreshes only these; v2 keys are created and revoked instead.
REFRESHABLE_FORMS: Final = frozenset({"v1", "legacy"})
FAULTABLE_METHODS: Final = frozenset({"RefreshApiToken", "ListCaches"})
# Wrong answers a refresh can be made to give (misanswer_refreshes).
MISANSWERS: Final = frozenset({"same_key", "shorter_key", "no_refresh_token"})

# One message for every "who are you?" failure, so a caller cannot probe which part was wrong.
MSG_INVALID: Final = "invalid api key or refresh token"
MSG_EXPIRED: Final = "api key expired; expired keys cannot be refreshed"
MSG_V2: Final = "v2 api keys cannot be refreshed"
MSG_EMPTY: Final = "api_key and refresh_token are required"
MSG_UNAUTHORIZED: Final = "missing, invalid or expired api key in authorization metadata"
MSG_FINE_GRAINED: Final = "fine-grained api keys may not list caches"

_JWT_HEADER: Final = {"alg": "HS256", "typ": "JWT"}


# --- JWT (HS256) with PyJWT --------------------------------------------------------------------

# Decoding checks the signature and this exact header only. Expiry is judged against the
# emulator's injectable clock (_expired), not the wall clock PyJWT would use, and the other
# registered claims (iat, nbf, sub, ...) are ones this emulator wrote itself.
_SIGNATURE_ONLY: Final[jwt.types.Options] = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


@contextlib.contextmanager
def _short_keys_allowed(secret: bytes) -> Iterator[None]:
    """Silence PyJWT's InsecureKeyLengthWarning for a key under SHA-256's 32 bytes: test and
    bench keys are short throwaways on purpose, and pytest turns warnings into errors. The
    emulator's own key is 32 bytes, so its server threads never touch the (process-wide,
    not thread-safe) warning filters."""
    if len(secret) >= hashlib.sha256().digest_size:
        yield
        return
    with warnings.catch_warnings(action="ignore", category=jwt.InsecureKeyLengthWarning):
        yield


def sign_jwt(secret: bytes, claims: Mapping[str, object]) -> str:
    """Return an HS256 JWT over ``claims``."""
    # Sorted, so a key and its claims give one token whatever order a caller built them in
    # (PyJWT sorts only the header, which comes out as _JWT_HEADER).
    with _short_keys_allowed(secret):
        return jwt.encode(dict(sorted(claims.items())), secret, algorithm="HS256")


def verify_jwt(secret: bytes, token: str) -> dict[str, object] | None:
    """Return the claims of ``token`` if ``secret`` signed it with HS256, else None."""
    try:
        with _short_keys_allowed(secret):
            decoded = jwt.decode_complete(
                token, secret, algorithms=["HS256"], options=_SIGNATURE_ONLY
            )
    # ValueError: a token str PyJWT cannot encode to UTF-8 (a lone surrogate), before parsing.
    except (jwt.PyJWTError, ValueError):
        return None
    # PyJWT accepts any header naming an allowed alg; keys from here carry exactly this one.
    if decoded["header"] != _JWT_HEADER:
        return None
    claims: dict[str, object] = decoded["payload"]
    return claims


# --- Issued keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedKey:
    """A key as a user would receive it from the Momento console."""

    api_key: str  # what a user stores: v1 base64 form, or the bare JWT for legacy/v2
    jwt: str  # the inner JWT, sent to RefreshApiToken and as authorization metadata
    refresh_token: str
    valid_until: int  # epoch seconds, 0 if the key never expires
    endpoint: str

    def __repr__(self) -> str:
        # Keep secrets out of pytest failure output and logs.
        return f"IssuedKey(endpoint={self.endpoint!r}, valid_until={self.valid_until})"

    def console_json(self) -> dict[str, object]:
        """What the Momento console's "Download JSON" gives for this key."""
        return {
            "apiKey": self.api_key,
            "refreshToken": self.refresh_token,
            "validUntil": self.valid_until,
            "restrictions": {
                "cache": {"role": "readwrite", "all": {}},
                "topic": {"role": "readwrite", "all": {}},
            },
        }


def wrap_v1(endpoint: str, jwt: str) -> str:
    """The v1 key string: standard base64 of ``{"endpoint", "api_key"}``."""
    payload = json.dumps({"endpoint": endpoint, "api_key": jwt}).encode()
    return base64.b64encode(payload).decode("ascii")


@dataclass
class _Lineage:
    """A key and all its refreshed successors; they share one current refresh token."""

    endpoint: str
    form: str
    fine_grained: bool
    refresh_token: str  # the only token that will be accepted next


def _claim_int(claims: Mapping[str, object], name: str) -> int | None:
    value = claims.get(name)
    return value if isinstance(value, int) else None


def _authorization(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value:
            return value
    return None


# --- The emulator ------------------------------------------------------------------------------


class MomentoEmulator(EmulatorServer):
    """In-process Momento auth/control emulator; see the module docstring."""

    def __init__(
        self, *, endpoint: str = DEFAULT_ENDPOINT, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(FAULTABLE_METHODS, max_workers=16)
        self.endpoint = endpoint
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._lineage_of: dict[str, _Lineage] = {}  # JWT "sub" -> lineage
        self._refreshes = 0
        self._reported_valid_until: int | None = None
        self._misanswer: str | None = None

    def _add_handlers(self, server: grpc.Server) -> None:
        # The generated grpc modules carry no annotations (the package still ships py.typed).
        servicer = _Servicer(self)
        auth_pb2_grpc.add_AuthServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
        controlclient_pb2_grpc.add_ScsControlServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]

    # counters (read under a lock so a test sees a consistent value)

    @property
    def refresh_attempts(self) -> int:
        """RefreshApiToken calls received, including refused and faulted ones."""
        return self._faults.count("RefreshApiToken")

    @property
    def refreshes(self) -> int:
        """Successful refreshes."""
        with self._lock:
            return self._refreshes

    @property
    def list_caches_calls(self) -> int:
        """ListCaches calls received, including refused and faulted ones."""
        return self._faults.count("ListCaches")

    # test hooks

    def issue_key(
        self,
        *,
        lifetime: timedelta = timedelta(days=30),
        issued_at: float | None = None,
        expires_in: timedelta | None = None,
        form: str = "v1",
        never_expires: bool = False,
        fine_grained: bool = False,
    ) -> IssuedKey:
        """Mint a key as the console would. ``issued_at`` in the past makes it expire sooner;
        ``expires_in`` instead sets it to ``lifetime - expires_in`` ago (a key with its full
        lifetime that expires when a test wants)."""
        if issued_at is not None and expires_in is not None:
            raise ValueError("pass issued_at or expires_in, not both")
        if expires_in is not None:
            issued_at = self._clock() + (expires_in - lifetime).total_seconds()
        if form not in FORMS:
            raise ValueError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
        seconds = int(lifetime.total_seconds())
        if not never_expires and seconds <= 0:
            raise ValueError("lifetime must be positive (or pass never_expires=True)")
        iat = int(self._clock() if issued_at is None else issued_at)
        lineage = _Lineage(self.endpoint, form, fine_grained, secrets.token_urlsafe(32))
        with self._lock:
            jwt, exp = self._mint_locked(lineage, iat, None if never_expires else seconds)
        api_key = wrap_v1(self.endpoint, jwt) if form == "v1" else jwt
        return IssuedKey(api_key, jwt, lineage.refresh_token, exp or 0, self.endpoint)

    def report_valid_until(self, value: int | None) -> None:
        """Answer refreshes with ``valid_until=value`` whatever the new key's exp says (None:
        the truth). Momento's answer is a copy of the expiry, and copies can be wrong (0, say);
        until :meth:`clear_faults`."""
        with self._lock:
            self._reported_valid_until = value

    def misanswer_refreshes(self, how: str | None) -> None:
        """Answer refreshes wrongly, until :meth:`clear_faults` (None: answer rightly).

        ``same_key``: the presented key and refresh token back, nothing spent. ``shorter_key``:
        the token is spent and a new key minted that expires a minute before the presented one.
        ``no_refresh_token``: a normal refresh whose answer lacks the new refresh token.
        """
        if how is not None and how not in MISANSWERS:
            raise ValueError(f"how must be one of {sorted(MISANSWERS)} or None, not {how!r}")
        with self._lock:
            self._misanswer = how

    def clear_faults(self) -> None:
        super().clear_faults()
        self.report_valid_until(None)
        self.misanswer_refreshes(None)

    def decode_claims(self, jwt: str) -> dict[str, object]:
        """The claims of a JWT this emulator signed; ValueError otherwise."""
        claims = verify_jwt(self._secret, jwt)
        if claims is None:
            raise ValueError("not a JWT signed by this emulator")
        return claims

    def is_valid(self, jwt: str) -> bool:
        """True if this emulator minted ``jwt`` and it has not expired."""
        with self._lock:
            claims = self._known_claims_locked(jwt)
            return claims is not None and not self._expired(claims)

    # RPC logic, independent of gRPC plumbing

    def _refresh(self, api_key: str, refresh_token: str) -> auth_pb2._RefreshApiTokenResponse:
        """Apply RefreshApiToken; raises StatusError with the status to return."""
        if not api_key or not refresh_token:
            raise StatusError(grpc.StatusCode.INVALID_ARGUMENT, MSG_EMPTY)
        with self._lock:  # one lock around check-and-spend: concurrent reuse gets one winner
            now = int(self._clock())
            claims, lineage = self._require_known_locked(api_key, MSG_INVALID)
            if lineage.form not in REFRESHABLE_FORMS:
                raise StatusError(grpc.StatusCode.INVALID_ARGUMENT, MSG_V2)
            if self._expired(claims, now):
                raise StatusError(grpc.StatusCode.UNAUTHENTICATED, MSG_EXPIRED)
            if not hmac.compare_digest(refresh_token.encode(), lineage.refresh_token.encode()):
                raise StatusError(grpc.StatusCode.UNAUTHENTICATED, MSG_INVALID)
            iat, exp = _claim_int(claims, "iat"), _claim_int(claims, "exp")
            if self._misanswer == "same_key":
                return auth_pb2._RefreshApiTokenResponse(
                    api_key=api_key,
                    refresh_token=refresh_token,
                    endpoint=lineage.endpoint,
                    valid_until=exp or 0,
                )
            lifetime = None if exp is None or iat is None else exp - iat
            if self._misanswer == "shorter_key" and exp is not None:
                lifetime = exp - 60 - now
            lineage.refresh_token = secrets.token_urlsafe(32)  # spends the presented one
            new_jwt, new_exp = self._mint_locked(lineage, now, lifetime)
            self._refreshes += 1
            return auth_pb2._RefreshApiTokenResponse(
                api_key=new_jwt,
                refresh_token=""
                if self._misanswer == "no_refresh_token"
                else lineage.refresh_token,
                endpoint=lineage.endpoint,
                valid_until=(
                    new_exp or 0
                    if self._reported_valid_until is None
                    else self._reported_valid_until
                ),
            )

    def _list_caches(self, authorization: str | None) -> controlclient_pb2._ListCachesResponse:
        """Apply ListCaches; raises StatusError with the status to return."""
        with self._lock:
            claims, lineage = self._require_known_locked(authorization or "", MSG_UNAUTHORIZED)
            if self._expired(claims):
                raise StatusError(grpc.StatusCode.UNAUTHENTICATED, MSG_UNAUTHORIZED)
            if lineage.fine_grained:
                raise StatusError(grpc.StatusCode.PERMISSION_DENIED, MSG_FINE_GRAINED)
        return controlclient_pb2._ListCachesResponse()

    # internals; *_locked methods expect self._lock to be held

    def _mint_locked(
        self, lineage: _Lineage, iat: int, lifetime: int | None
    ) -> tuple[str, int | None]:
        key_id = f"key-{secrets.token_hex(8)}"  # a fresh id per key, so each JWT is distinct
        claims: dict[str, object] = {"sub": key_id, "iat": iat}
        exp = None if lifetime is None else iat + lifetime
        if exp is not None:
            claims["exp"] = exp
        if lineage.form == "v2":
            claims["t"] = "g"
        else:
            claims["ver"] = 1
        if lineage.form == "legacy":
            claims["cp"] = f"control.{lineage.endpoint}"
            claims["c"] = f"cache.{lineage.endpoint}"
        self._lineage_of[key_id] = lineage
        return sign_jwt(self._secret, claims), exp

    def _known_claims_locked(self, jwt: str) -> dict[str, object] | None:
        claims = verify_jwt(self._secret, jwt)
        if claims is None or not isinstance(claims.get("sub"), str):
            return None
        return claims if claims["sub"] in self._lineage_of else None

    def _require_known_locked(self, jwt: str, message: str) -> tuple[dict[str, object], _Lineage]:
        claims = self._known_claims_locked(jwt)
        if claims is None:
            raise StatusError(grpc.StatusCode.UNAUTHENTICATED, message)
        return claims, self._lineage_of[str(claims["sub"])]

    def _expired(self, claims: Mapping[str, object], now: int | None = None) -> bool:
        exp = _claim_int(claims, "exp")
        current = int(self._clock()) if now is None else now
        return exp is not None and current >= exp


# --- gRPC servicer: a thin adapter onto MomentoEmulator -------------------------------------------


class _Servicer(auth_pb2_grpc.AuthServicer, controlclient_pb2_grpc.ScsControlServicer):
    """Both services in one adapter; each registration only looks up its own methods."""

    def __init__(self, emulator: MomentoEmulator) -> None:
        self._emulator = emulator

    def RefreshApiToken(  # noqa: N802 - name fixed by the generated servicer
        self, request: auth_pb2._RefreshApiTokenRequest, context: grpc.ServicerContext
    ) -> object:
        # The Go SDK sends authorization metadata and JS sends none; refresh relies on the body.
        return self._emulator._serve_call(
            "RefreshApiToken",
            context,
            lambda: self._emulator._refresh(request.api_key, request.refresh_token),
        )

    def ListCaches(  # noqa: N802 - name fixed by the generated servicer
        self, request: controlclient_pb2._ListCachesRequest, context: grpc.ServicerContext
    ) -> object:
        return self._emulator._serve_call(
            "ListCaches", context, lambda: self._emulator._list_caches(_authorization(context))
        )


# --- CLI -----------------------------------------------------------------------------------------


def _duration_arg(text: str) -> timedelta:
    # argparse would report a bare ValueError as "invalid parse_duration value"; say the form.
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}: {text!r}") from None


def write_private_json(path: Path, document: Mapping[str, object]) -> None:
    """Write ``document`` to ``path`` with mode 0600, atomically (a reader never sees half)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask cannot widen it, but be explicit
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argument_parser(
        "devtools.emulators.momento",
        "Serve a local Momento RefreshApiToken/ListCaches emulator (plaintext gRPC).",
        default_port=0,
    )
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help="the E in control.E")
    parser.add_argument(
        "--seed-key-file", type=Path, help="write a fresh v1 key's console JSON here (0600)"
    )
    parser.add_argument("--seed-lifetime", type=_duration_arg, default=timedelta(days=30))
    parser.add_argument(
        "--seed-expires-in",
        type=_duration_arg,
        help="how soon the seed key expires (default: its full lifetime)",
    )
    args = parser.parse_args(argv)
    expires_in = args.seed_expires_in or args.seed_lifetime
    if not timedelta(0) < expires_in <= args.seed_lifetime:
        parser.error("--seed-expires-in must be positive and at most --seed-lifetime")
    args.seed_expires_in = expires_in
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM."""
    args = _parse_args(argv)
    emulator = MomentoEmulator(endpoint=args.endpoint)

    def seed() -> None:
        key = emulator.issue_key(lifetime=args.seed_lifetime, expires_in=args.seed_expires_in)
        write_private_json(args.seed_key_file, key.console_json())

    # The banner follows the seed file, so a reader that waits for it can read the file.
    return serve_until_signalled(
        emulator,
        "momento emulator",
        host=args.host,
        port=args.port,
        before_banner=seed if args.seed_key_file is not None else None,
    )


if __name__ == "__main__":
    raise SystemExit(main())
