"""The Momento emulator, driven through the real generated stubs and the real SDK parser."""

from __future__ import annotations

import json
import selectors
import signal
import stat
import subprocess
import sys
import threading
import time
import warnings
from datetime import timedelta
from pathlib import Path

import grpc
import momento
import pytest
from momento_wire_types import auth_pb2, auth_pb2_grpc, controlclient_pb2, controlclient_pb2_grpc

from devtools.emulators.momento import MomentoEmulator, parse_duration, wrap_v1

ENDPOINT = "cell-test.momento.emulator.local"
DAY = 86400
REPO_ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    """A settable clock, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def emulator(clock):
    with MomentoEmulator(endpoint=ENDPOINT, clock=clock) as emu:
        yield emu


@pytest.fixture
def channel(emulator):
    with grpc.insecure_channel(emulator.address) as chan:
        yield chan


@pytest.fixture
def auth(channel):
    return auth_pb2_grpc.AuthStub(channel)


@pytest.fixture
def control(channel):
    return controlclient_pb2_grpc.ScsControlStub(channel)


def parse_key(api_key):
    # from_string warns about its own deprecation with stacklevel=2, which points at us.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "from_string is deprecated", DeprecationWarning)
        return momento.CredentialProvider.from_string(api_key)


def refresh(auth, jwt, refresh_token, **kwargs):
    request = auth_pb2._RefreshApiTokenRequest(api_key=jwt, refresh_token=refresh_token)
    kwargs.setdefault("timeout", 5)
    return auth.RefreshApiToken(request, **kwargs)


def refresh_error(auth, jwt, refresh_token):
    with pytest.raises(grpc.RpcError) as caught:
        refresh(auth, jwt, refresh_token)
    return caught.value


def list_caches(control, jwt=None, **kwargs):
    metadata = None if jwt is None else (("authorization", jwt),)
    request = controlclient_pb2._ListCachesRequest()
    kwargs.setdefault("timeout", 5)
    return control.ListCaches(request, metadata=metadata, **kwargs)


def list_caches_error(control, jwt=None):
    with pytest.raises(grpc.RpcError) as caught:
        list_caches(control, jwt)
    return caught.value


# --- key forms -----------------------------------------------------------------------------------


def test_v1_key_parses_with_the_sdk(emulator):
    key = emulator.issue_key(form="v1")
    provider = parse_key(key.api_key)
    assert provider.control_endpoint == f"control.{ENDPOINT}"
    assert provider.cache_endpoint == f"cache.{ENDPOINT}"
    assert provider.token_endpoint == f"token.{ENDPOINT}"
    assert provider.auth_token == key.jwt


def test_legacy_key_parses_with_the_sdk(emulator):
    key = emulator.issue_key(form="legacy")
    assert key.api_key == key.jwt
    provider = parse_key(key.api_key)
    assert provider.control_endpoint == f"control.{ENDPOINT}"
    assert provider.cache_endpoint == f"cache.{ENDPOINT}"
    assert provider.auth_token == key.jwt


def test_v2_key_is_recognised_as_v2_by_the_sdk(emulator):
    key = emulator.issue_key(form="v2")
    provider = momento.CredentialProvider.from_api_key_v2(key.api_key, ENDPOINT)
    assert provider.control_endpoint == f"control.{ENDPOINT}"


def test_issued_key_lifetime_and_console_json(emulator, clock):
    """issued_at in the past shortens the remaining life, not the lifetime."""
    key = emulator.issue_key(lifetime=timedelta(days=30), issued_at=clock.now - 29 * DAY)
    claims = emulator.decode_claims(key.jwt)
    assert claims["exp"] - claims["iat"] == 30 * DAY
    assert key.valid_until == clock.now + DAY
    document = key.console_json()
    assert document["apiKey"] == key.api_key
    assert document["refreshToken"] == key.refresh_token
    assert document["validUntil"] == key.valid_until
    assert document["restrictions"]["cache"] == {"role": "readwrite", "all": {}}


def test_never_expiring_key_has_no_exp(emulator):
    key = emulator.issue_key(never_expires=True)
    assert key.valid_until == 0
    assert "exp" not in emulator.decode_claims(key.jwt)


def test_repr_hides_secrets(emulator):
    key = emulator.issue_key()
    assert key.jwt not in repr(key)
    assert key.refresh_token not in repr(key)


# --- RefreshApiToken -----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["v1", "legacy"])
def test_refresh_returns_a_new_key_with_the_same_lifetime(emulator, auth, clock, form):
    key = emulator.issue_key(form=form, lifetime=timedelta(days=30), issued_at=clock.now - 29 * DAY)
    response = refresh(auth, key.jwt, key.refresh_token)
    assert response.api_key != key.jwt
    assert response.refresh_token != key.refresh_token
    assert response.endpoint == ENDPOINT
    assert response.valid_until == clock.now + 30 * DAY
    claims = emulator.decode_claims(response.api_key)
    assert claims["exp"] == response.valid_until
    assert claims["exp"] - claims["iat"] == 30 * DAY
    assert ("cp" in claims) == (form == "legacy")
    assert emulator.refreshes == 1


def test_refreshed_key_wrapped_as_v1_parses(emulator, auth):
    key = emulator.issue_key()
    response = refresh(auth, key.jwt, key.refresh_token)
    provider = parse_key(wrap_v1(response.endpoint, response.api_key))
    assert provider.control_endpoint == f"control.{ENDPOINT}"
    assert provider.auth_token == response.api_key


def test_never_expiring_key_refreshes_to_never_expiring(emulator, auth):
    key = emulator.issue_key(never_expires=True)
    response = refresh(auth, key.jwt, key.refresh_token)
    assert response.valid_until == 0
    assert "exp" not in emulator.decode_claims(response.api_key)


def test_refresh_token_is_single_use(emulator, auth):
    key = emulator.issue_key()
    refresh(auth, key.jwt, key.refresh_token)
    error = refresh_error(auth, key.jwt, key.refresh_token)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "invalid api key or refresh token"


def test_new_refresh_token_chains(emulator, auth):
    """The returned token refreshes the returned key, and the lineage keeps its lifetime."""
    key = emulator.issue_key(lifetime=timedelta(hours=2))
    first = refresh(auth, key.jwt, key.refresh_token)
    second = refresh(auth, first.api_key, first.refresh_token)
    claims = emulator.decode_claims(second.api_key)
    assert claims["exp"] - claims["iat"] == 2 * 3600


def test_old_key_stays_valid_until_its_own_expiry(emulator, auth, clock):
    key = emulator.issue_key(lifetime=timedelta(days=30), issued_at=clock.now - 29 * DAY)
    response = refresh(auth, key.jwt, key.refresh_token)
    assert emulator.is_valid(key.jwt)
    clock.advance(DAY)
    assert not emulator.is_valid(key.jwt)
    assert emulator.is_valid(response.api_key)


def test_expired_key_is_refused(emulator, auth, clock):
    key = emulator.issue_key(lifetime=timedelta(hours=1))
    clock.advance(3600)
    error = refresh_error(auth, key.jwt, key.refresh_token)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "api key expired; expired keys cannot be refreshed"
    assert emulator.refreshes == 0


def test_v2_key_is_refused(emulator, auth):
    key = emulator.issue_key(form="v2")
    error = refresh_error(auth, key.jwt, key.refresh_token)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "v2 api keys cannot be refreshed"


def test_wrong_refresh_token_is_refused(emulator, auth):
    key = emulator.issue_key()
    other = emulator.issue_key()
    error = refresh_error(auth, key.jwt, other.refresh_token)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    # The refused attempt did not spend the right token.
    assert refresh(auth, key.jwt, key.refresh_token).api_key


@pytest.mark.parametrize(
    "make_jwt",
    [
        pytest.param(lambda key: MomentoEmulator().issue_key().jwt, id="foreign-signature"),
        pytest.param(lambda key: key.jwt[:-4] + "AAAA", id="tampered-signature"),
        pytest.param(lambda key: key.api_key, id="v1-wrapper-instead-of-inner-jwt"),
        pytest.param(lambda key: "not-a-jwt", id="garbage"),
    ],
)
def test_unrecognised_key_is_refused(emulator, auth, make_jwt):
    key = emulator.issue_key()
    error = refresh_error(auth, make_jwt(key), key.refresh_token)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "invalid api key or refresh token"


@pytest.mark.parametrize("field", ["api_key", "refresh_token"])
def test_empty_field_is_invalid_argument(emulator, auth, field):
    key = emulator.issue_key()
    values = {"api_key": key.jwt, "refresh_token": key.refresh_token, field: ""}
    error = refresh_error(auth, values["api_key"], values["refresh_token"])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_authorization_metadata_is_accepted(emulator, auth):
    """The Go SDK sends the inner JWT as authorization; JS sends none. Both work."""
    key = emulator.issue_key()
    response = refresh(auth, key.jwt, key.refresh_token, metadata=(("authorization", key.jwt),))
    assert response.api_key


def test_error_messages_never_echo_keys_or_tokens(emulator, auth, clock):
    good = emulator.issue_key()
    expired = emulator.issue_key(lifetime=timedelta(hours=1), issued_at=clock.now - 7200)
    v2 = emulator.issue_key(form="v2")
    attempts = [
        (good.jwt, "wrong-token-canary"),
        (good.api_key, good.refresh_token),
        (expired.jwt, expired.refresh_token),
        (v2.jwt, v2.refresh_token),
        (good.jwt, ""),
    ]
    secrets = {good.jwt, good.api_key, good.refresh_token, "wrong-token-canary"}
    secrets |= {expired.jwt, expired.refresh_token, v2.jwt, v2.refresh_token}
    for jwt, token in attempts:
        error = refresh_error(auth, jwt, token)
        text = f"{error.details()} {error.debug_error_string()}"
        assert not [s for s in secrets if s in text]


def test_concurrent_refresh_with_the_same_token_has_one_winner(emulator, auth):
    key = emulator.issue_key()
    racers = 8
    barrier = threading.Barrier(racers)
    outcomes = []
    lock = threading.Lock()

    def race():
        barrier.wait()
        try:
            refresh(auth, key.jwt, key.refresh_token)
            outcome = grpc.StatusCode.OK
        except grpc.RpcError as error:
            outcome = error.code()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcomes.count(grpc.StatusCode.OK) == 1
    assert outcomes.count(grpc.StatusCode.UNAUTHENTICATED) == racers - 1
    assert emulator.refresh_attempts == racers
    assert emulator.refreshes == 1


def test_other_auth_methods_are_unimplemented(auth):
    with pytest.raises(grpc.RpcError) as caught:
        auth.GenerateApiToken(auth_pb2._GenerateApiTokenRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


# --- ListCaches ----------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["v1", "legacy", "v2"])
def test_list_caches_with_a_valid_key_is_empty(emulator, control, form):
    key = emulator.issue_key(form=form)
    assert list(list_caches(control, key.jwt).cache) == []
    assert emulator.list_caches_calls == 1


def test_list_caches_with_a_fine_grained_key_is_denied(emulator, control):
    key = emulator.issue_key(fine_grained=True)
    assert list_caches_error(control, key.jwt).code() == grpc.StatusCode.PERMISSION_DENIED


def test_refreshed_fine_grained_key_stays_fine_grained(emulator, auth, control):
    key = emulator.issue_key(fine_grained=True)
    response = refresh(auth, key.jwt, key.refresh_token)
    assert list_caches_error(control, response.api_key).code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("jwt", [None, "garbage"], ids=["missing", "garbage"])
def test_list_caches_without_a_valid_key_is_unauthenticated(control, jwt):
    assert list_caches_error(control, jwt).code() == grpc.StatusCode.UNAUTHENTICATED


def test_list_caches_with_an_expired_key_is_unauthenticated(emulator, control, clock):
    key = emulator.issue_key(lifetime=timedelta(hours=1))
    clock.advance(3600)
    assert list_caches_error(control, key.jwt).code() == grpc.StatusCode.UNAUTHENTICATED


# --- fault injection -----------------------------------------------------------------------------


def test_fault_fires_once_and_spends_nothing(emulator, auth):
    key = emulator.issue_key()
    emulator.inject_fault("RefreshApiToken", grpc.StatusCode.UNAVAILABLE, message="try later")
    error = refresh_error(auth, key.jwt, key.refresh_token)
    assert (error.code(), error.details()) == (grpc.StatusCode.UNAVAILABLE, "try later")
    refresh(auth, key.jwt, key.refresh_token)  # the same token still works
    assert (emulator.refresh_attempts, emulator.refreshes) == (2, 1)


def test_fault_with_delay_outlasts_the_client_deadline(emulator, auth):
    key = emulator.issue_key()
    emulator.inject_fault("RefreshApiToken", grpc.StatusCode.UNAVAILABLE, delay=2.0)
    with pytest.raises(grpc.RpcError) as caught:
        refresh(auth, key.jwt, key.refresh_token, timeout=0.2)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_ok_fault_only_delays(emulator, control):
    key = emulator.issue_key()
    emulator.inject_fault("ListCaches", grpc.StatusCode.OK, delay=0.05)
    assert list(list_caches(control, key.jwt).cache) == []


def test_unbounded_fault_lasts_until_cleared(emulator, control):
    key = emulator.issue_key()
    emulator.inject_fault("ListCaches", grpc.StatusCode.INTERNAL, times=-1)
    for _ in range(3):
        assert list_caches_error(control, key.jwt).code() == grpc.StatusCode.INTERNAL
    emulator.clear_faults()
    assert list(list_caches(control, key.jwt).cache) == []
    assert emulator.list_caches_calls == 4


def test_faults_queue_in_order(emulator, control):
    key = emulator.issue_key()
    emulator.inject_fault("ListCaches", grpc.StatusCode.UNAVAILABLE, times=2)
    emulator.inject_fault("ListCaches", grpc.StatusCode.INTERNAL)
    codes = [list_caches_error(control, key.jwt).code() for _ in range(3)]
    assert codes == [grpc.StatusCode.UNAVAILABLE] * 2 + [grpc.StatusCode.INTERNAL]
    assert list(list_caches(control, key.jwt).cache) == []


def test_inject_fault_rejects_unknown_method(emulator):
    with pytest.raises(ValueError, match="method must be one of"):
        emulator.inject_fault("Login", grpc.StatusCode.INTERNAL)


# --- lifecycle -----------------------------------------------------------------------------------


def test_a_port_in_use_is_refused_rather_than_shared(emulator):
    """Two emulators on one port would split requests between them (SO_REUSEPORT)."""
    port = int(emulator.address.rsplit(":", 1)[1])
    with pytest.raises(OSError, match="cannot listen"):
        MomentoEmulator().start(port=port)


# --- command line --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90m", 5400), ("72h", 259200), ("3d", 259200), ("3600s", 3600)],
    ids=["minutes", "hours", "days", "seconds"],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


def _read_line(stream, timeout):
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    try:
        if not selector.select(timeout):
            pytest.fail(f"no output within {timeout}s")
        return stream.readline()
    finally:
        selector.close()


def test_module_entry_point_seeds_a_key_file_and_serves(tmp_path):
    key_file = tmp_path / "key.json"
    command = [sys.executable, "-m", "devtools.emulators.momento", "--port", "0"]
    command += ["--seed-key-file", str(key_file), "--seed-lifetime", "30d"]
    command += ["--seed-expires-in", "1d"]
    started = time.time()
    proc = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = _read_line(proc.stdout, timeout=8)
        assert line.startswith("momento emulator listening on 127.0.0.1:")
        address = line.rsplit(" ", 1)[1].strip()

        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        document = json.loads(key_file.read_text())
        assert abs(document["validUntil"] - (started + DAY)) < 10
        provider = parse_key(document["apiKey"])
        assert provider.control_endpoint == "control.momento.emulator.local"

        with grpc.insecure_channel(address) as chan:
            metadata = (("authorization", provider.auth_token),)
            controlclient_pb2_grpc.ScsControlStub(chan).ListCaches(
                controlclient_pb2._ListCachesRequest(), metadata=metadata, timeout=5
            )
            response = refresh(
                auth_pb2_grpc.AuthStub(chan), provider.auth_token, document["refreshToken"]
            )
        assert abs(response.valid_until - (time.time() + 30 * DAY)) < 10
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=5)
    assert proc.returncode == 0
    assert document["refreshToken"] not in stdout + stderr
    assert provider.auth_token not in stdout + stderr
    assert not [p for p in tmp_path.iterdir() if p.name != "key.json"], "temp file left behind"


def test_module_entry_point_rejects_expiry_beyond_lifetime(tmp_path):
    command = [sys.executable, "-m", "devtools.emulators.momento", "--seed-key-file"]
    command += [str(tmp_path / "key.json"), "--seed-lifetime", "1d", "--seed-expires-in", "2d"]
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False
    )
    assert result.returncode == 2
    assert "--seed-expires-in" in result.stderr
    assert not list(tmp_path.iterdir())
