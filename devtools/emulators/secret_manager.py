"""An in-memory Secret Manager that the real ``google-cloud-secret-manager`` client can talk to.

It serves ``google.cloud.secretmanager.v1.SecretManagerService`` over plaintext gRPC, so tests
and local demos exercise the production client code path (request building, retries, pagers,
exception mapping) without a Google project. Point a client at it with::

    channel = grpc.insecure_channel(emulator.address)
    client = SecretManagerServiceClient(
        transport=SecretManagerServiceGrpcTransport(channel=channel)
    )

or run it standalone: ``python -m devtools.emulators.secret_manager --port 8085``.

Emulated, matching the real service where callers can tell the difference:

* CreateSecret, GetSecret, UpdateSecret, DeleteSecret, ListSecrets, AddSecretVersion,
  GetSecretVersion, AccessSecretVersion, ListSecretVersions, Enable/Disable/DestroySecretVersion.
  Every other RPC (IAM, RotateSecret, ...) answers UNIMPLEMENTED.
* Requests may name a project by id or number; every returned name uses the project NUMBER.
  Unknown ids get a stable made-up 12-digit number (see ``project_number``).
* Version numbers start at 1 and are never reused; ``latest`` is the newest version whatever
  its state; version aliases (``Secret.version_aliases``) resolve too. Accessing a version that
  is not ENABLED is FAILED_PRECONDITION.
* AddSecretVersion checks ``data_crc32c`` when sent and the 64 KiB payload limit.
* Etags: secrets and versions carry quoted etags that change on every change. A non-empty etag
  in UpdateSecret, DeleteSecret or Enable/Disable/DestroySecretVersion is an atomic
  compare-and-swap; a mismatch is FAILED_PRECONDITION.
* UpdateSecret applies ``update_mask`` (top-level mutable fields such as ``annotations`` and
  ``labels``); an empty mask is INVALID_ARGUMENT.
* List RPCs paginate with opaque tokens that stay correct while versions are being added.
  ``total_size`` is the unfiltered count, and 0 when a filter is set (as documented upstream).
* Filters follow the AIP-160 grammar used by Google list filters: ``AND``, ``OR``, ``NOT``/``-``,
  parentheses, and juxtaposition meaning AND. Note that OR binds tighter than AND there:
  ``a AND b OR c`` is ``a AND (b OR c)``. Supported restrictions:

  - versions: ``state:ENABLED|DISABLED|DESTROYED`` (also ``=``/``!=``) and
    ``create_time <|<=|>|>=|=|!= RFC3339`` (with a time zone, optionally quoted);
  - secrets: ``name:substring``, ``labels.KEY:VALUE``, ``labels.KEY:*``, ``create_time ...``.

  Anything else is INVALID_ARGUMENT, so a filter the emulator does not understand fails loudly
  instead of silently matching everything.

Not emulated: IAM and authentication (any caller may do anything), quotas/RESOURCE_EXHAUSTED
(inject them with ``inject_fault``), regional secrets (``projects/*/locations/*``), CMEK, TTL
expiry and delayed destruction (``version_destroy_ttl``), rotation notifications to Pub/Sub
topics (the fields are stored, nothing is published), the REST/HTTP surface, and persistence.
Versions are listed by version number, newest first, which equals create-time order unless a
test seeds out-of-order ``create_time`` values.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import hashlib
import itertools
import operator
import re
import secrets
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import google_crc32c
import grpc
from google.cloud import secretmanager_v1
from google.protobuf import empty_pb2, field_mask_pb2

from devtools.emulators._server import (
    EmulatorServer,
    StatusError,
    argument_parser,
    serve_until_signalled,
)

__all__ = ["EmulatorError", "FilterError", "SecretManagerEmulator", "main", "project_number"]

SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"
MAX_PAYLOAD_BYTES = 65536
MAX_PAGE_SIZE = 25000
STATES = ("ENABLED", "DISABLED", "DESTROYED")
RPC_NAMES = (
    "CreateSecret",
    "GetSecret",
    "UpdateSecret",
    "DeleteSecret",
    "ListSecrets",
    "AddSecretVersion",
    "GetSecretVersion",
    "AccessSecretVersion",
    "ListSecretVersions",
    "EnableSecretVersion",
    "DisableSecretVersion",
    "DestroySecretVersion",
)

_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
_PROJECT_NAME = re.compile(r"projects/([^/]+)")
_SECRET_NAME = re.compile(r"projects/([^/]+)/secrets/([^/]+)")
_VERSION_NAME = re.compile(r"projects/([^/]+)/secrets/([^/]+)/versions/([^/]+)")
# Fields UpdateSecret may change. Output-only and immutable ones (name, create_time, etag,
# replication) are refused, as the real service does.
_UPDATABLE_SECRET_FIELDS = frozenset(
    {
        "annotations",
        "labels",
        "topics",
        "rotation",
        "version_aliases",
        "expire_time",
        "ttl",
        "version_destroy_ttl",
    }
)

_State = str  # one of STATES; kept as text because the test hooks speak text
T = TypeVar("T")


class EmulatorError(StatusError):
    """A failure with a gRPC status; RPCs turn it into that status, test hooks raise it."""

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


def _invalid(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _not_found(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.NOT_FOUND, message)


def _precondition(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.FAILED_PRECONDITION, message)


def project_number(project: str, project_numbers: Mapping[str, str] | None = None) -> str:
    """The number the emulator uses for ``project`` (an id or already a number).

    Unmapped ids get a 12-digit number from a hash of the id, so it is the same in every
    process and run: a test can predict it, and two emulators agree on it.
    """
    if project.isdigit():
        return project
    if project_numbers and project in project_numbers:
        return project_numbers[project]
    digest = int.from_bytes(hashlib.sha256(project.encode()).digest()[:8], "big")
    return str(10**11 + digest % (9 * 10**11))


# ---------------------------------------------------------------------------------------------
# Filters: a small recursive-descent parser for the AIP-160 subset Secret Manager documents.


class FilterError(ValueError):
    """A list filter the emulator cannot parse or does not support."""


@dataclass(frozen=True)
class _Restriction:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class _Not:
    operand: _Expr


@dataclass(frozen=True)
class _And:
    operands: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Or:
    operands: tuple[_Expr, ...]


_Expr = _Restriction | _Not | _And | _Or

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Longest operators first, so "<=" is not read as "<" followed by a value starting with "=".
_OPERATORS = ("<=", ">=", "!=", "<", ">", "=", ":")
_BARE_VALUE = re.compile(r"[^\s()]+")


class _FilterParser:
    """Grammar (AIP-160, trimmed to what Secret Manager filters use)::

    expression  = sequence { "AND" sequence }
    sequence    = factor { factor }              # juxtaposition means AND
    factor      = term { "OR" term }
    term        = [ "NOT" | "-" ] simple
    simple      = "(" expression ")" | restriction
    restriction = FIELD OPERATOR VALUE          # VALUE: bare word or quoted string
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def parse(self) -> _Expr | None:
        if not self._text.strip():
            return None
        expr = self._expression()
        self._skip_space()
        if self._pos != len(self._text):
            raise self._error("unexpected text")
        return expr

    def _expression(self) -> _Expr:
        sequences = [self._sequence()]
        while self._keyword("AND"):
            sequences.append(self._sequence())
        return sequences[0] if len(sequences) == 1 else _And(tuple(sequences))

    def _sequence(self) -> _Expr:
        factors = [self._factor()]
        while self._starts_term():
            factors.append(self._factor())
        return factors[0] if len(factors) == 1 else _And(tuple(factors))

    def _factor(self) -> _Expr:
        terms = [self._term()]
        while self._keyword("OR"):
            terms.append(self._term())
        return terms[0] if len(terms) == 1 else _Or(tuple(terms))

    def _term(self) -> _Expr:
        if self._keyword("NOT") or self._symbol("-"):
            return _Not(self._simple())
        return self._simple()

    def _simple(self) -> _Expr:
        if self._symbol("("):
            expr = self._expression()
            if not self._symbol(")"):
                raise self._error("expected ')'")
            return expr
        return self._restriction()

    def _restriction(self) -> _Restriction:
        self._skip_space()
        name = _FIELD.match(self._text, self._pos)
        if name is None or name.group() in ("AND", "OR", "NOT"):
            raise self._error("expected a field name")
        self._pos = name.end()
        self._skip_space()
        op = next((o for o in _OPERATORS if self._text.startswith(o, self._pos)), None)
        if op is None:
            raise self._error(f"expected an operator after {name.group()!r}")
        self._pos += len(op)
        self._skip_space()
        return _Restriction(name.group(), op, self._value())

    def _value(self) -> str:
        if self._pos < len(self._text) and self._text[self._pos] in "\"'":
            return self._quoted()
        bare = _BARE_VALUE.match(self._text, self._pos)
        if bare is None:
            raise self._error("expected a value")
        self._pos = bare.end()
        return bare.group()

    def _quoted(self) -> str:
        quote = self._text[self._pos]
        chars: list[str] = []
        pos = self._pos + 1
        while pos < len(self._text):
            char = self._text[pos]
            if char == "\\" and pos + 1 < len(self._text):
                chars.append(self._text[pos + 1])
                pos += 2
            elif char == quote:
                self._pos = pos + 1
                return "".join(chars)
            else:
                chars.append(char)
                pos += 1
        raise self._error("unterminated string")

    def _starts_term(self) -> bool:
        self._skip_space()
        if self._pos >= len(self._text) or self._text[self._pos] == ")":
            return False
        return not (self._peek_keyword("AND") or self._peek_keyword("OR"))

    def _peek_keyword(self, word: str) -> bool:
        # A keyword must stand alone: "ORDER:x" is a field, "OR (" and "NOT(" are keywords.
        if not self._text.startswith(word, self._pos):
            return False
        after = self._pos + len(word)
        return after < len(self._text) and (self._text[after].isspace() or self._text[after] == "(")

    def _keyword(self, word: str) -> bool:
        self._skip_space()
        if self._peek_keyword(word):
            self._pos += len(word)
            return True
        return False

    def _symbol(self, symbol: str) -> bool:
        self._skip_space()
        if self._text.startswith(symbol, self._pos):
            self._pos += len(symbol)
            return True
        return False

    def _skip_space(self) -> None:
        while self._pos < len(self._text) and self._text[self._pos].isspace():
            self._pos += 1

    def _error(self, reason: str) -> FilterError:
        return FilterError(f"invalid filter {self._text!r}: {reason} at offset {self._pos}")


def parse_filter(text: str) -> _Expr | None:
    """Parse a list filter; ``None`` for an empty one. Raises :class:`FilterError`."""
    return _FilterParser(text).parse()


def _compile(
    expr: _Expr, restriction: Callable[[_Restriction], Callable[[T], bool]]
) -> Callable[[T], bool]:
    """Turn a parsed filter into a predicate. Restrictions are checked here, up front, so an
    unsupported filter fails even when there is nothing to list."""
    match expr:
        case _Restriction():
            return restriction(expr)
        case _Not(operand):
            inner = _compile(operand, restriction)
            return lambda item: not inner(item)
        case _And(operands):
            parts = [_compile(o, restriction) for o in operands]
            return lambda item: all(part(item) for part in parts)
        case _Or(operands):
            parts = [_compile(o, restriction) for o in operands]
            return lambda item: any(part(item) for part in parts)


_COMPARISONS: dict[str, Callable[[datetime, datetime], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}


def _time_restriction(
    restriction: _Restriction, get_time: Callable[[T], datetime]
) -> Callable[[T], bool]:
    compare = _COMPARISONS.get(restriction.op)
    if compare is None:
        raise FilterError(f"operator {restriction.op!r} is not supported for {restriction.field}")
    try:
        bound = datetime.fromisoformat(restriction.value)
    except ValueError:
        raise FilterError(f"{restriction.value!r} is not an RFC 3339 timestamp") from None
    if bound.tzinfo is None:
        raise FilterError(f"timestamp {restriction.value!r} needs a time zone (e.g. Z)")
    return lambda item: compare(get_time(item), bound)


# ---------------------------------------------------------------------------------------------
# State.


@dataclass
class _Version:
    number: int
    state: _State
    data: bytes | None
    create_time: datetime
    etag: str
    client_checksum: bool = False
    destroy_time: datetime | None = None


@dataclass
class _SecretRecord:
    meta: Any  # secretmanager_v1.Secret, holding name (with project number), etag, labels...
    versions: dict[int, _Version] = field(default_factory=dict)
    next_version: int = 1


def _version_restriction(restriction: _Restriction) -> Callable[[_Version], bool]:
    if restriction.field == "state":
        if restriction.op not in (":", "=", "!="):
            raise FilterError(f"operator {restriction.op!r} is not supported for state")
        if restriction.value not in STATES:
            raise FilterError(f"state must be one of {', '.join(STATES)}")
        wanted, negate = restriction.value, restriction.op == "!="
        return lambda version: (version.state == wanted) != negate
    if restriction.field == "create_time":
        return _time_restriction(restriction, lambda version: version.create_time)
    raise FilterError(f"the emulator cannot filter versions on {restriction.field!r}")


def _secret_restriction(restriction: _Restriction) -> Callable[[_SecretRecord], bool]:
    field_name, op, value = restriction.field, restriction.op, restriction.value
    if field_name == "name" and op == ":":
        return lambda record: value in record.meta.name
    if field_name.startswith("labels.") and op in (":", "="):
        key = field_name.removeprefix("labels.")
        if op == ":" and value == "*":
            return lambda record: key in record.meta.labels
        return lambda record: record.meta.labels.get(key) == value
    if field_name == "create_time":
        return _time_restriction(restriction, lambda record: record.meta.create_time)
    raise FilterError(f"the emulator cannot filter secrets on {field_name!r} with {op!r}")


def _predicate(
    text: str, restriction: Callable[[_Restriction], Callable[[T], bool]]
) -> Callable[[T], bool]:
    try:
        expr = parse_filter(text)
        return (lambda _item: True) if expr is None else _compile(expr, restriction)
    except FilterError as exc:
        raise _invalid(str(exc)) from None


def _page_size(requested: int) -> int:
    if requested < 0:
        raise _invalid("page_size must not be negative")
    # 0 lets the server choose; the real cap is 25000, which is also what we choose.
    return MAX_PAGE_SIZE if requested == 0 else min(requested, MAX_PAGE_SIZE)


def _encode_token(kind: str, cursor: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{cursor}".encode()).decode()


def _decode_token(kind: str, token: str) -> str | None:
    """The cursor (last item returned) in ``token``; tokens name a position, not an offset,
    so versions added between pages neither repeat nor hide items."""
    if not token:
        return None
    try:
        found_kind, _, cursor = base64.urlsafe_b64decode(token).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid("invalid page_token") from None
    if found_kind != kind or not cursor:
        raise _invalid("invalid page_token")
    return cursor


def _paginate(
    items: list[T], page_size: int, cursor_of: Callable[[T], str], kind: str
) -> tuple[list[T], str]:
    page, rest = items[:page_size], items[page_size:]
    return page, (_encode_token(kind, cursor_of(page[-1])) if rest and page else "")


def _check_etag(requested: str, current: str, resource: str) -> None:
    if requested and requested != current:
        raise _precondition(
            f"The etag {requested} does not match the current etag {current} of {resource}."
        )


# ---------------------------------------------------------------------------------------------
# The emulator.


class SecretManagerEmulator(EmulatorServer):
    """In-memory Secret Manager served over plaintext gRPC, plus thread-safe test hooks.

    One lock guards all state and every RPC holds it for its whole read-modify-write, which is
    what makes etag checks atomic compare-and-swaps.
    """

    def __init__(
        self,
        *,
        project_numbers: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(RPC_NAMES, max_workers=64)
        self._project_numbers = dict(project_numbers or {})
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._secrets: dict[tuple[str, str], _SecretRecord] = {}
        # A per-instance salt keeps etags from one emulator from matching another's.
        self._etag_salt = secrets.token_hex(4)
        self._etag_counter = itertools.count(1)
        # Every RPC received, by method name, including refused and faulted ones.
        self.calls: collections.Counter[str] = self._faults.calls

    # -- test hooks --------------------------------------------------------------------------

    def create_secret(self, name: str, *, annotations: Mapping[str, str] | None = None) -> str:
        """Create ``projects/P/secrets/S`` (automatic replication); returns its canonical name.

        Raises :class:`EmulatorError` (ALREADY_EXISTS, INVALID_ARGUMENT) like the RPC would.
        """
        project, secret_id = self._parse(_SECRET_NAME, name, "secret")
        secret = secretmanager_v1.Secret(annotations=dict(annotations or {}))
        with self._lock:
            return str(self._insert_secret(project, secret_id, secret).meta.name)

    def add_version(
        self,
        secret: str,
        data: bytes,
        *,
        create_time: datetime | None = None,
        state: str = "ENABLED",
    ) -> str:
        """Add a version in any state with a chosen create time; returns the version name."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, not {state!r}")
        if create_time is not None and create_time.tzinfo is None:
            raise ValueError("create_time must be timezone-aware")
        with self._lock:
            record = self._secret(secret)
            version = self._insert_version(record, data, create_time=create_time)
            if state != "ENABLED":
                self._set_state(version, state)
            return self._version_name(record, version)

    def version_states(self, secret: str) -> dict[int, str]:
        """``{version number: state}`` for every version of ``secret``."""
        with self._lock:
            return {n: v.state for n, v in sorted(self._secret(secret).versions.items())}

    def payload(self, secret: str, version: int | str = "latest") -> bytes | None:
        """The stored bytes of a version whatever its state; ``None`` once destroyed."""
        with self._lock:
            return self._resolve(self._secret(secret), str(version)).data

    def annotations(self, secret: str) -> dict[str, str]:
        with self._lock:
            return dict(self._secret(secret).meta.annotations)

    # -- names -------------------------------------------------------------------------------

    def _parse(self, pattern: re.Pattern[str], name: str, what: str) -> tuple[str, ...]:
        match = pattern.fullmatch(name)
        if match is None:
            raise _invalid(f"Invalid {what} name {name!r}.")
        project, *rest = match.groups()
        return (project_number(project, self._project_numbers), *rest)

    def _secret_key(self, name: str) -> tuple[str, str]:
        project, secret_id = self._parse(_SECRET_NAME, name, "secret")
        return project, secret_id

    def _secret(self, name: str) -> _SecretRecord:
        project, secret_id = self._secret_key(name)
        record = self._secrets.get((project, secret_id))
        if record is None:
            raise _not_found(f"Secret [projects/{project}/secrets/{secret_id}] not found.")
        return record

    @staticmethod
    def _version_name(record: _SecretRecord, version: _Version) -> str:
        return f"{record.meta.name}/versions/{version.number}"

    def _resolve(self, record: _SecretRecord, version_id: str) -> _Version:
        """The version ``version_id`` names: a number, ``latest`` or an alias."""
        if version_id == "latest":
            if not record.versions:
                raise _not_found(f"Secret [{record.meta.name}] not found or has no versions.")
            return record.versions[max(record.versions)]
        number = int(version_id) if version_id.isdigit() else None
        if number is None and version_id in record.meta.version_aliases:
            number = int(record.meta.version_aliases[version_id])
        version = record.versions.get(number) if number is not None else None
        if version is None:
            raise _not_found(
                f"Secret Version [{record.meta.name}/versions/{version_id}] not found."
            )
        return version

    def _versioned(self, name: str) -> tuple[_SecretRecord, _Version]:
        project, secret_id, version_id = self._parse(_VERSION_NAME, name, "secret version")
        record = self._secret(f"projects/{project}/secrets/{secret_id}")
        return record, self._resolve(record, version_id)

    # -- mutations (caller holds the lock) ---------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the emulator clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    def _new_etag(self) -> str:
        return f'"{self._etag_salt}{next(self._etag_counter):06x}"'

    def _insert_secret(self, project: str, secret_id: str, secret: Any) -> _SecretRecord:
        if not _SECRET_ID.fullmatch(secret_id):
            raise _invalid(f"Secret id {secret_id!r} must be 1-255 letters, digits, '_' or '-'.")
        name = f"projects/{project}/secrets/{secret_id}"
        if (project, secret_id) in self._secrets:
            raise EmulatorError(grpc.StatusCode.ALREADY_EXISTS, f"Secret [{name}] already exists.")
        meta = secretmanager_v1.Secret()
        secretmanager_v1.Secret.copy_from(meta, secret)
        meta.name = name
        meta.create_time = self._now()
        meta.etag = self._new_etag()
        if "replication" not in meta:
            meta.replication = secretmanager_v1.Replication(
                automatic=secretmanager_v1.Replication.Automatic()
            )
        record = _SecretRecord(meta)
        self._secrets[(project, secret_id)] = record
        return record

    def _insert_version(
        self, record: _SecretRecord, data: bytes, *, create_time: datetime | None = None
    ) -> _Version:
        version = _Version(
            number=record.next_version,
            state="ENABLED",
            data=bytes(data),
            create_time=create_time.astimezone(UTC) if create_time else self._now(),
            etag=self._new_etag(),
        )
        record.versions[version.number] = version
        record.next_version += 1
        return version

    def _set_state(self, version: _Version, state: _State) -> None:
        if version.state == state:
            return  # no change, so the etag stays valid
        version.state = state
        version.etag = self._new_etag()
        if state == "DESTROYED":
            version.data = None
            version.destroy_time = self._now()

    # -- messages ----------------------------------------------------------------------------

    @staticmethod
    def _secret_message(record: _SecretRecord) -> Any:
        # A copy: responses are serialized after the lock is released.
        out = secretmanager_v1.Secret()
        secretmanager_v1.Secret.copy_from(out, record.meta)
        return out

    def _version_message(self, record: _SecretRecord, version: _Version) -> Any:
        message = secretmanager_v1.SecretVersion(
            name=self._version_name(record, version),
            create_time=version.create_time,
            state=getattr(secretmanager_v1.SecretVersion.State, version.state),
            etag=version.etag,
            client_specified_payload_checksum=version.client_checksum,
            replication_status=secretmanager_v1.ReplicationStatus(
                automatic=secretmanager_v1.ReplicationStatus.AutomaticStatus()
            ),
        )
        if version.destroy_time is not None:
            message.destroy_time = version.destroy_time
        return message

    # -- RPCs --------------------------------------------------------------------------------

    def _create_secret(self, request: Any) -> Any:
        (project,) = self._parse(_PROJECT_NAME, request.parent, "project")
        with self._lock:
            return self._secret_message(
                self._insert_secret(project, request.secret_id, request.secret)
            )

    def _get_secret(self, request: Any) -> Any:
        with self._lock:
            return self._secret_message(self._secret(request.name))

    def _update_secret(self, request: Any) -> Any:
        paths = list(request.update_mask.paths)
        if not paths:
            raise _invalid("update_mask is required.")
        refused = [p for p in paths if p not in _UPDATABLE_SECRET_FIELDS]
        if refused:
            raise _invalid(f"update_mask paths {refused} cannot be updated.")
        with self._lock:
            record = self._secret(request.secret.name)
            _check_etag(request.secret.etag, record.meta.etag, f"Secret [{record.meta.name}]")
            field_mask_pb2.FieldMask(paths=paths).MergeMessage(
                secretmanager_v1.Secret.pb(request.secret),
                secretmanager_v1.Secret.pb(record.meta),
                replace_message_field=True,
                replace_repeated_field=True,
            )
            record.meta.etag = self._new_etag()
            return self._secret_message(record)

    def _delete_secret(self, request: Any) -> Any:
        with self._lock:
            record = self._secret(request.name)
            _check_etag(request.etag, record.meta.etag, f"Secret [{record.meta.name}]")
            del self._secrets[self._secret_key(request.name)]
        return empty_pb2.Empty()

    def _list_secrets(self, request: Any) -> Any:
        (project,) = self._parse(_PROJECT_NAME, request.parent, "project")
        matches = _predicate(request.filter, _secret_restriction)
        size = _page_size(request.page_size)
        after = _decode_token("secrets", request.page_token)
        with self._lock:
            records = sorted(
                ((secret_id, r) for (p, secret_id), r in self._secrets.items() if p == project),
                key=operator.itemgetter(0),  # by name, like the real service
            )
            total = 0 if request.filter else len(records)
            selected = [(i, r) for i, r in records if matches(r) and (after is None or i > after)]
            page, token = _paginate(selected, size, operator.itemgetter(0), "secrets")
            return secretmanager_v1.ListSecretsResponse(
                secrets=[self._secret_message(r) for _, r in page],
                next_page_token=token,
                total_size=total,
            )

    def _add_secret_version(self, request: Any) -> Any:
        data = bytes(request.payload.data)
        if len(data) > MAX_PAYLOAD_BYTES:
            raise _invalid(f"Secret payload is {len(data)} bytes; the limit is 64 KiB.")
        checksum = "data_crc32c" in request.payload
        if checksum and request.payload.data_crc32c != google_crc32c.value(data):
            raise _invalid("Checksum mismatch. Data corrupted in transit or request is invalid.")
        with self._lock:
            record = self._secret(request.parent)
            version = self._insert_version(record, data)
            version.client_checksum = checksum
            return self._version_message(record, version)

    def _get_secret_version(self, request: Any) -> Any:
        with self._lock:
            return self._version_message(*self._versioned(request.name))

    def _access_secret_version(self, request: Any) -> Any:
        with self._lock:
            record, version = self._versioned(request.name)
            name = self._version_name(record, version)
            if version.state != "ENABLED" or version.data is None:
                raise _precondition(f"Secret Version [{name}] is in {version.state} state.")
            data = version.data
        return secretmanager_v1.AccessSecretVersionResponse(
            name=name,
            payload=secretmanager_v1.SecretPayload(
                data=data, data_crc32c=google_crc32c.value(data)
            ),
        )

    def _list_secret_versions(self, request: Any) -> Any:
        matches = _predicate(request.filter, _version_restriction)
        size = _page_size(request.page_size)
        cursor = _decode_token("versions", request.page_token)
        if cursor is not None and not cursor.isdigit():
            raise _invalid("invalid page_token")
        below = int(cursor) if cursor is not None else None
        with self._lock:
            record = self._secret(request.parent)
            newest_first = sorted(record.versions.values(), key=lambda v: v.number, reverse=True)
            selected = [
                v for v in newest_first if matches(v) and (below is None or v.number < below)
            ]
            page, token = _paginate(selected, size, lambda v: str(v.number), "versions")
            return secretmanager_v1.ListSecretVersionsResponse(
                versions=[self._version_message(record, v) for v in page],
                next_page_token=token,
                total_size=0 if request.filter else len(record.versions),
            )

    def _change_state(self, request: Any, state: _State) -> Any:
        with self._lock:
            record, version = self._versioned(request.name)
            name = self._version_name(record, version)
            _check_etag(request.etag, version.etag, f"Secret Version [{name}]")
            if version.state == "DESTROYED":
                raise _precondition(f"Secret Version [{name}] is in DESTROYED state.")
            self._set_state(version, state)
            return self._version_message(record, version)

    # -- gRPC plumbing -----------------------------------------------------------------------

    def _add_handlers(self, server: grpc.Server) -> None:
        sm = secretmanager_v1
        serialize_empty = empty_pb2.Empty.SerializeToString
        table: dict[str, tuple[Callable[[Any], Any], Any, Callable[[Any], bytes]]] = {
            "CreateSecret": (self._create_secret, sm.CreateSecretRequest, sm.Secret.serialize),
            "GetSecret": (self._get_secret, sm.GetSecretRequest, sm.Secret.serialize),
            "UpdateSecret": (self._update_secret, sm.UpdateSecretRequest, sm.Secret.serialize),
            "DeleteSecret": (self._delete_secret, sm.DeleteSecretRequest, serialize_empty),
            "ListSecrets": (
                self._list_secrets,
                sm.ListSecretsRequest,
                sm.ListSecretsResponse.serialize,
            ),
            "AddSecretVersion": (
                self._add_secret_version,
                sm.AddSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "GetSecretVersion": (
                self._get_secret_version,
                sm.GetSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "AccessSecretVersion": (
                self._access_secret_version,
                sm.AccessSecretVersionRequest,
                sm.AccessSecretVersionResponse.serialize,
            ),
            "ListSecretVersions": (
                self._list_secret_versions,
                sm.ListSecretVersionsRequest,
                sm.ListSecretVersionsResponse.serialize,
            ),
            "EnableSecretVersion": (
                lambda r: self._change_state(r, "ENABLED"),
                sm.EnableSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "DisableSecretVersion": (
                lambda r: self._change_state(r, "DISABLED"),
                sm.DisableSecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
            "DestroySecretVersion": (
                lambda r: self._change_state(r, "DESTROYED"),
                sm.DestroySecretVersionRequest,
                sm.SecretVersion.serialize,
            ),
        }
        # Methods missing from the table (IAM, RotateSecret, ...) get UNIMPLEMENTED from gRPC.
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                method: grpc.unary_unary_rpc_method_handler(
                    self._rpc(method, fn),
                    request_deserializer=request_type.deserialize,
                    response_serializer=serialize,
                )
                for method, (fn, request_type, serialize) in table.items()
            },
        )
        server.add_generic_rpc_handlers((handler,))

    def _rpc(
        self, method: str, handler: Callable[[Any], Any]
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def serve(request: Any, context: grpc.ServicerContext) -> Any:
            return self._serve_call(method, context, lambda: handler(request))

        return serve


# ---------------------------------------------------------------------------------------------
# Command line.


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argument_parser(
        "devtools.emulators.secret_manager",
        "Serve an in-memory Secret Manager over plaintext gRPC until SIGINT/SIGTERM.",
        default_port=8085,
    )
    parser.add_argument(
        "--project-number",
        action="append",
        default=[],
        metavar="ID=NUMBER",
        help="map a project id to its number (repeatable); others get a derived number",
    )
    return parser.parse_args(argv)


def _project_numbers(pairs: Sequence[str]) -> Iterator[tuple[str, str]]:
    for pair in pairs:
        project, sep, number = pair.partition("=")
        if not sep or not number.isdigit():
            raise SystemExit(f"--project-number wants ID=NUMBER, got {pair!r}")
        yield project, number


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    emulator = SecretManagerEmulator(project_numbers=dict(_project_numbers(args.project_number)))
    return serve_until_signalled(
        emulator, "secret-manager emulator", host=args.host, port=args.port
    )


if __name__ == "__main__":
    sys.exit(main())
