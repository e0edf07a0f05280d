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
restarts, and Momento's exact error texts. Keys are HS256 JWTs signed with a per-instance random
secret, so keys from one emulator are foreign to another.

Tests drive it in-process through ``MomentoEmulator`` (``issue_key``, an injectable clock,
counters, ``inject_fault``). ``python -m devtools.emulators.momento`` serves it until SIGINT or
SIGTERM and can seed a console-style key file first. Nothing here prints a key or a token.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType, TracebackType
from typing import Final

import grpc
from momento_wire_types import auth_pb2, auth_pb2_grpc, controlclient_pb2, controlclient_pb2_grpc

DEFAULT_ENDPOINT: Final = "momento.emulator.local"
FORMS: Final = ("v1", "legacy", "v2")
# Momento refreshes only these; v2 keys are created and revoked instead.
REFRESHABLE_FORMS: Final = frozenset({"v1", "legacy"})
FAULTABLE_METHODS: Final = frozenset({"RefreshApiToken", "ListCaches"})

# One message for every "who are you?" failure, so a caller cannot probe which part was wrong.
MSG_INVALID: Final = "invalid api key or refresh token"
MSG_EXPIRED: Final = "api key expired; expired keys cannot be refreshed"
MSG_V2: Final = "v2 api keys cannot be refreshed"
MSG_EMPTY: Final = "api_key and refresh_token are required"
MSG_UNAUTHORIZED: Final = "missing, invalid or expired api key in authorization metadata"
MSG_FINE_GRAINED: Final = "fine-grained api keys may not list caches"

_JWT_HEADER: Final = {"alg": "HS256", "typ": "JWT"}


# --- JWT (HS256) with the stdlib -------------------------------------------------------------


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    # validate=True: reject stray characters instead of silently dropping them.
    return base64.b64decode(padded, altchars=b"-_", validate=True)


def _json_segment(value: Mapping[str, object]) -> str:
    return _b64url_encode(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def sign_jwt(secret: bytes, claims: Mapping[str, object]) -> str:
    """Return an HS256 JWT over ``claims``."""
    signing_input = f"{_json_segment(_JWT_HEADER)}.{_json_segment(claims)}"
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url_encode(signature)}"


def verify_jwt(secret: bytes, token: str) -> dict[str, object] | None:
    """Return the claims of ``token`` if ``secret`` signed it with HS256, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header_b64, claims_b64, signature_b64 = parts
    try:
        signature = _b64url_decode(signature_b64)
        header = json.loads(_b64url_decode(header_b64))
        claims = json.loads(_b64url_decode(claims_b64))
    except ValueError:  # binascii.Error, UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    expected = hmac.new(
        secret, f"{header_b64}.{claims_b64}".encode("ascii"), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(signature, expected) or header != _JWT_HEADER:
        return None
    if not isinstance(claims, dict):
        return None
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


@dataclass
class _Fault:
    code: grpc.StatusCode
    remaining: int  # -1: until cleared
    delay: float
    message: str


class _StatusError(Exception):
    """A gRPC status for the servicer to return; raised by the RPC logic."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _claim_int(claims: Mapping[str, object], name: str) -> int | None:
    value = claims.get(name)
    return value if isinstance(value, int) else None


def _authorization(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value:
            return value
    return None


# --- The emulator ------------------------------------------------------------------------------


class MomentoEmulator:
    """In-process Momento auth/control emulator; see the module docstring."""

    def __init__(
        self, *, endpoint: str = DEFAULT_ENDPOINT, clock: Callable[[], float] = time.time
    ) -> None:
        self.endpoint = endpoint
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._lineage_of: dict[str, _Lineage] = {}  # JWT "sub" -> lineage
        self._faults: dict[str, list[_Fault]] = {}
        # Wakes handlers sleeping in an injected delay, so stop() is not held up by them.
        self._stopping = threading.Event()
        self._server: grpc.Server | None = None
        self._address: str | None = None
        self._refresh_attempts = 0
        self._refreshes = 0
        self._list_caches_calls = 0

    # lifecycle

    @property
    def address(self) -> str:
        """``host:port`` to dial, once started."""
        if self._address is None:
            raise RuntimeError("MomentoEmulator is not started; call start() first")
        return self._address

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve on ``host:port`` (0 picks a free port) and return the address."""
        if self._server is not None:
            raise RuntimeError("MomentoEmulator is already started")
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        # The generated grpc modules carry no annotations (the package still ships py.typed).
        auth_pb2_grpc.add_AuthServicer_to_server(_AuthServicer(self), server)  # type: ignore[no-untyped-call]
        controlclient_pb2_grpc.add_ScsControlServicer_to_server(  # type: ignore[no-untyped-call]
            _ScsControlServicer(self), server
        )
        bound = server.add_insecure_port(f"{host}:{port}")
        if not bound:
            raise RuntimeError(f"could not bind the Momento emulator to {host}:{port}")
        self._stopping.clear()
        server.start()
        self._server = server
        self._address = f"{host}:{bound}"
        return self._address

    def stop(self) -> None:
        """Stop serving, cancelling in-flight calls. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.stop(grace=None).wait(5)

    def __enter__(self) -> MomentoEmulator:
        """Start on a free localhost port unless already started."""
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # counters (read under the lock so a test sees a consistent value)

    @property
    def refresh_attempts(self) -> int:
        """RefreshApiToken calls received, including refused and faulted ones."""
        with self._lock:
            return self._refresh_attempts

    @property
    def refreshes(self) -> int:
        """Successful refreshes."""
        with self._lock:
            return self._refreshes

    @property
    def list_caches_calls(self) -> int:
        """ListCaches calls received, including refused and faulted ones."""
        with self._lock:
            return self._list_caches_calls

    # test hooks

    def issue_key(
        self,
        *,
        lifetime: timedelta = timedelta(days=30),
        issued_at: float | None = None,
        form: str = "v1",
        never_expires: bool = False,
        fine_grained: bool = False,
    ) -> IssuedKey:
        """Mint a key as the console would. ``issued_at`` in the past makes it expire sooner."""
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

    def inject_fault(
        self,
        method: str,
        code: grpc.StatusCode,
        *,
        times: int = 1,
        delay: float = 0.0,
        message: str = "injected fault",
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``code`` (-1: until cleared).

        The fault fires before any state change, so a faulted refresh spends nothing. ``delay``
        sleeps first, to outlast a client deadline. ``code=OK`` only delays, then serves
        normally. Faults queue per method, in the order injected.
        """
        if method not in FAULTABLE_METHODS:
            raise ValueError(f"method must be one of {sorted(FAULTABLE_METHODS)}, not {method!r}")
        if times == 0 or times < -1:
            raise ValueError("times must be positive, or -1 for until cleared")
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(code, times, delay, message))

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    # RPC logic, independent of gRPC plumbing

    def _refresh(self, api_key: str, refresh_token: str) -> auth_pb2._RefreshApiTokenResponse:
        """Apply RefreshApiToken; raises _StatusError with the status to return."""
        if not api_key or not refresh_token:
            raise _StatusError(grpc.StatusCode.INVALID_ARGUMENT, MSG_EMPTY)
        with self._lock:  # one lock around check-and-spend: concurrent reuse gets one winner
            now = int(self._clock())
            claims, lineage = self._require_known_locked(api_key, MSG_INVALID)
            if lineage.form not in REFRESHABLE_FORMS:
                raise _StatusError(grpc.StatusCode.INVALID_ARGUMENT, MSG_V2)
            if self._expired(claims, now):
                raise _StatusError(grpc.StatusCode.UNAUTHENTICATED, MSG_EXPIRED)
            if not hmac.compare_digest(refresh_token.encode(), lineage.refresh_token.encode()):
                raise _StatusError(grpc.StatusCode.UNAUTHENTICATED, MSG_INVALID)
            iat, exp = _claim_int(claims, "iat"), _claim_int(claims, "exp")
            lifetime = None if exp is None or iat is None else exp - iat
            lineage.refresh_token = secrets.token_urlsafe(32)  # spends the presented one
            new_jwt, new_exp = self._mint_locked(lineage, now, lifetime)
            self._refreshes += 1
            return auth_pb2._RefreshApiTokenResponse(
                api_key=new_jwt,
                refresh_token=lineage.refresh_token,
                endpoint=lineage.endpoint,
                valid_until=new_exp or 0,
            )

    def _list_caches(self, authorization: str | None) -> controlclient_pb2._ListCachesResponse:
        """Apply ListCaches; raises _StatusError with the status to return."""
        with self._lock:
            claims, lineage = self._require_known_locked(authorization or "", MSG_UNAUTHORIZED)
            if self._expired(claims):
                raise _StatusError(grpc.StatusCode.UNAUTHENTICATED, MSG_UNAUTHORIZED)
            if lineage.fine_grained:
                raise _StatusError(grpc.StatusCode.PERMISSION_DENIED, MSG_FINE_GRAINED)
        return controlclient_pb2._ListCachesResponse()

    def _serve_call(
        self, method: str, context: grpc.ServicerContext, handler: Callable[[], object]
    ) -> object:
        """Count the call, apply any injected fault, then run ``handler``; abort on status."""
        fault = self._take_fault(method)
        if fault is not None:
            self._stopping.wait(fault.delay)
            if fault.code != grpc.StatusCode.OK:
                context.abort(fault.code, fault.message)
        try:
            return handler()
        except _StatusError as status:
            context.abort(status.code, status.message)
            raise  # unreachable: abort raises; keeps the type checker honest

    # internals; *_locked methods expect self._lock to be held

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            if method == "RefreshApiToken":
                self._refresh_attempts += 1
            else:
                self._list_caches_calls += 1
            queue = self._faults.get(method, [])
            if not queue:
                return None
            fault = queue[0]
            if fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    queue.pop(0)
            return fault

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
            raise _StatusError(grpc.StatusCode.UNAUTHENTICATED, message)
        return claims, self._lineage_of[str(claims["sub"])]

    def _expired(self, claims: Mapping[str, object], now: int | None = None) -> bool:
        exp = _claim_int(claims, "exp")
        current = int(self._clock()) if now is None else now
        return exp is not None and current >= exp


# --- gRPC servicers: thin adapters onto MomentoEmulator -----------------------------------------


class _AuthServicer(auth_pb2_grpc.AuthServicer):
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


class _ScsControlServicer(controlclient_pb2_grpc.ScsControlServicer):
    def __init__(self, emulator: MomentoEmulator) -> None:
        self._emulator = emulator

    def ListCaches(  # noqa: N802 - name fixed by the generated servicer
        self, request: controlclient_pb2._ListCachesRequest, context: grpc.ServicerContext
    ) -> object:
        return self._emulator._serve_call(
            "ListCaches", context, lambda: self._emulator._list_caches(_authorization(context))
        )


# --- CLI -----------------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse ``90m``, ``72h``, ``3d`` or ``3600s``."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"expected a duration like 90m, 72h, 3d or 3600s: {text!r}"
        )
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])


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
    parser = argparse.ArgumentParser(
        prog="python -m devtools.emulators.momento",
        description="Serve a local Momento RefreshApiToken/ListCaches emulator (plaintext gRPC).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help="the E in control.E")
    parser.add_argument(
        "--seed-key-file", type=Path, help="write a fresh v1 key's console JSON here (0600)"
    )
    parser.add_argument("--seed-lifetime", type=parse_duration, default=timedelta(days=30))
    parser.add_argument(
        "--seed-expires-in",
        type=parse_duration,
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
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    emulator = MomentoEmulator(endpoint=args.endpoint)
    address = emulator.start(port=args.port, host=args.host)
    try:
        if args.seed_key_file is not None:
            # Issued "(lifetime - expires_in) ago", so it has the full lifetime but expires soon.
            age = (args.seed_lifetime - args.seed_expires_in).total_seconds()
            key = emulator.issue_key(lifetime=args.seed_lifetime, issued_at=time.time() - age)
            write_private_json(args.seed_key_file, key.console_json())
        # Written after the seed file, so a reader that waits for this line can read the file.
        print(f"momento emulator listening on {address}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
