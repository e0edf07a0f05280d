"""The function's configuration, parsed once from the environment into a frozen value.

Every problem names the variable and the form it accepts, so a bad deployment fails at start
with a message the operator can act on, not at 3 a.m. on the first refresh.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from rotation.durations import DURATION_FORM, format_duration, parse_duration
from rotation.errors import ConfigError

_SECRET_ID = r"[A-Za-z0-9_-]{1,255}"
_PROJECT = r"[a-z0-9](?:[a-z0-9:.-]{0,98}[a-z0-9])?"
_FULL_NAME = re.compile(rf"^projects/({_PROJECT})/secrets/({_SECRET_ID})$")
_SHORT_NAME = re.compile(rf"^{_SECRET_ID}$")
_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

SECRET_NAME_FORM = "projects/PROJECT/secrets/SECRET or SECRET (letters, digits, - and _)"


@dataclass(frozen=True)
class Config:
    """Everything the function needs to know, validated."""

    secrets: tuple[str, ...]
    project: str | None = None  # resolves short secret names, here and in requests
    refresh_before: timedelta = timedelta(days=3)
    retention: timedelta = timedelta(days=7)
    min_enabled_versions: int = 1
    dry_run: bool = False
    secret_manager_emulator_host: str | None = None
    momento_control_endpoint: str | None = None
    momento_control_insecure: bool = False
    momento_timeout: timedelta = timedelta(seconds=10)
    store_deadline: timedelta = timedelta(seconds=60)
    lease_duration: timedelta = timedelta(minutes=5)


def resolve_secret_name(name: str, project: str | None, *, source: str) -> str:
    """Return the full ``projects/P/secrets/S`` form of a full or short secret name."""
    name = name.strip()
    if _FULL_NAME.match(name):
        return name
    if _SHORT_NAME.match(name):
        if not project:
            raise ConfigError(
                f"{source}: secret {name!r} is a short name, but GOOGLE_CLOUD_PROJECT is not set; "
                "set it, or use the full form projects/PROJECT/secrets/SECRET"
            )
        return f"projects/{project}/secrets/{name}"
    raise ConfigError(f"{source}: {_describe(name)} is not a secret name; use {SECRET_NAME_FORM}")


def _describe(text: str) -> str:
    # Configuration is not secret, but keep messages short and printable.
    shown = text if len(text) <= 80 and text.isprintable() else text[:40].encode().hex() + "..."
    return repr(shown)


def load_config(env: Mapping[str, str]) -> Config:
    """Parse the environment; raise ConfigError naming the first bad variable."""
    project = env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT") or None
    config = Config(
        secrets=_secrets(env.get("ROTATION_SECRETS", ""), project),
        project=project,
        refresh_before=_duration(env, "REFRESH_BEFORE", Config.refresh_before),
        retention=_duration(env, "RETENTION", Config.retention),
        min_enabled_versions=_positive_int(
            env, "MIN_ENABLED_VERSIONS", Config.min_enabled_versions
        ),
        dry_run=_bool(env, "DRY_RUN", default=Config.dry_run),
        secret_manager_emulator_host=_host_port(env, "SECRET_MANAGER_EMULATOR_HOST"),
        momento_control_endpoint=_host_port(env, "MOMENTO_CONTROL_ENDPOINT"),
        momento_control_insecure=_bool(env, "MOMENTO_CONTROL_INSECURE", default=False),
        momento_timeout=_duration(env, "MOMENTO_TIMEOUT", Config.momento_timeout),
        store_deadline=_duration(env, "STORE_DEADLINE", Config.store_deadline),
        lease_duration=_duration(env, "LEASE_DURATION", Config.lease_duration),
    )
    # A lease that expired while its holder still worked would let a second run refresh too.
    # The holder reads, refreshes and writes under it: two store deadlines and one Momento call.
    longest_hold = 2 * config.store_deadline + config.momento_timeout
    if config.lease_duration <= longest_hold:
        raise ConfigError(
            f"LEASE_DURATION must be longer than 2 x STORE_DEADLINE + MOMENTO_TIMEOUT "
            f"({format_duration(longest_hold)}), the longest a run can hold the lease; "
            f"use for example {format_duration(longest_hold + timedelta(minutes=1))}"
        )
    return config


def _secrets(raw: str, project: str | None) -> tuple[str, ...]:
    names = [part for part in (piece.strip() for piece in raw.split(",")) if part]
    if not names:
        raise ConfigError(
            "ROTATION_SECRETS is empty; set it to a comma-separated list of "
            f"secret names, each {SECRET_NAME_FORM}"
        )
    resolved = [resolve_secret_name(name, project, source="ROTATION_SECRETS") for name in names]
    return tuple(dict.fromkeys(resolved))  # keep order, drop repeats


def _duration(env: Mapping[str, str], variable: str, default: timedelta) -> timedelta:
    raw = env.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = parse_duration(raw)
    except ValueError:
        raise ConfigError(
            f"{variable}={_describe(raw)} is not valid; use {DURATION_FORM}"
        ) from None
    if value <= timedelta(0):
        raise ConfigError(f"{variable} must be longer than zero; use {DURATION_FORM}")
    return value


def _positive_int(env: Mapping[str, str], variable: str, default: int) -> int:
    raw = env.get(variable, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{variable}={_describe(raw)} is not valid; use a whole number >= 1")
    return int(raw)


def _bool(env: Mapping[str, str], variable: str, *, default: bool) -> bool:
    raw = env.get(variable)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{variable}={_describe(raw)} is not valid; use true or false")


def _host_port(env: Mapping[str, str], variable: str) -> str | None:
    raw = env.get(variable, "").strip()
    if not raw:
        return None
    match = _HOST_PORT.match(raw)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ConfigError(f"{variable}={_describe(raw)} is not valid; use host:port")
    return raw
