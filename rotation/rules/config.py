"""The function's configuration, parsed once from the environment into a frozen value.

Every problem names the variable and the form it accepts, so a bad deployment fails at start
with a message the operator can act on, not at 3 a.m. on the first refresh.

Values are read strictly: ASCII digits only (``²`` and ``٣`` are not numbers here), leading and
trailing whitespace ignored, and a value that is not valid UTF-8 (which Linux hands to Python as
lone surrogates) refused by name. Durations have a ceiling per variable, in :data:`LONGEST`;
messages never echo more than a short, printable rendering of a value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from momento_key_common import names
from momento_key_common.errors import ConfigError
from rotation.rules.durations import (
    DURATION_FORM,
    DurationTooLongError,
    format_duration,
    parse_duration,
)
from rotation.rules.schedule import CRON_FORM, CronSchedule, ScheduleError, TimeZoneError
from rotation.rules.schedule import parse as parse_schedule

_PROJECT_ID = re.compile(names.PROJECT)
_HOST_PORT = re.compile(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")
_DIGITS = re.compile(r"[0-9]+")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

SECRET_NAME_FORM = names.FORM
PROJECT_FORM = "a project ID (lowercase letters, digits and -)"
BOOL_FORM = "true or false"
HOST_PORT_FORM = "host:port"
SECRETS_FORM = f"a comma-separated list of secret names, each {SECRET_NAME_FORM}"
# ROTATION_LABEL: key=value, each part per Secret Manager's label rules (resources.proto
# Secret.labels): key 1-63 characters, value 0-63, of lowercase letters (\p{Ll}, \p{Lo}),
# digits (\p{N}), _ and -, the key starting with a letter.
LABEL_FORM = (
    "key=value, the key 1-63 lowercase letters, digits, _ and -, starting with a letter, "
    "the value 0-63 of the same"
)
# Secret Manager keeps every version; a thousand enabled ones is already far past any need.
MAX_MIN_ENABLED_VERSIONS = 1000
# Budgets per minute (rotation/adapters/pacing.py). The project's own quota is 600 reads and 600
# writes a minute unless raised; a hundred times that is surely a typo. A refresh reserves its
# two writes at once, so the write budget must hold at least two.
MAX_CALLS_PER_MINUTE = 60000
MIN_WRITES_PER_MINUTE = 2

# The longest each duration may be. Longer values are mistakes (a unit slip, a missing unit
# conversion), and near timedelta's own limit the lease's expiry would overflow a datetime.
LONGEST = {
    # A window longer than a year would refresh nearly every key on every run.
    "REFRESH_BEFORE": timedelta(days=365),
    # Ten years: in effect "never disable", still a date Python can compute.
    "RETENTION": timedelta(days=3650),
    # A Cloud Function runs at most an hour; a call cannot usefully wait longer.
    "MOMENTO_TIMEOUT": timedelta(hours=1),
    "STORE_DEADLINE": timedelta(hours=1),
    # Must exceed 2 x STORE_DEADLINE + MOMENTO_TIMEOUT (at most 3h); a crashed run's lease
    # blocks rotation of its secret for this long.
    "LEASE_DURATION": timedelta(days=1),
    # Cloud Functions' longest timeout (HTTP functions).
    "FUNCTION_TIMEOUT": timedelta(hours=1),
    # Ten years, as RETENTION: a longer wait to destroy is "never".
    "DESTROY_AFTER": timedelta(days=3650),
}


@dataclass(frozen=True)
class Config:
    """Everything the function needs to know, validated."""

    secrets: tuple[str, ...]
    project: str | None = None  # resolves short secret names, here and in requests
    # Also manage every secret in `project` carrying this label (key, value); see discovery.py.
    rotation_label: tuple[str, str] | None = None
    # The locations whose regional secrets ROTATION_LABEL also searches (global ones always).
    locations: tuple[str, ...] = ()
    refresh_before: timedelta = timedelta(days=3)
    retention: timedelta = timedelta(days=7)
    # Destroy a disabled version once its retention ended longer ago than this; None: never.
    destroy_after: timedelta | None = None
    min_enabled_versions: int = 1
    dry_run: bool = False
    secret_manager_emulator_host: str | None = None
    momento_control_endpoint: str | None = None
    momento_control_insecure: bool = False
    momento_timeout: timedelta = timedelta(seconds=10)
    store_deadline: timedelta = timedelta(seconds=60)
    lease_duration: timedelta = timedelta(minutes=5)
    # Half the project's default quota: other workloads in the project share the rest.
    reads_per_minute: int = 300
    writes_per_minute: int = 300
    # The function's own timeout (deploy.sh passes it): a run that can't fit is warned about.
    function_timeout: timedelta | None = None
    # The Cloud Scheduler job's schedule (deploy.sh passes it): when the next run comes.
    schedule: CronSchedule | None = None


def resolve_secret_name(
    name: str, project: str | None, *, source: str, project_setting: str = "GOOGLE_CLOUD_PROJECT"
) -> str:
    """Return the full form (global or regional) of a full or short secret name.

    ``project_setting`` is how the caller's user sets the project, for the message when unset.
    """
    name = name.strip()
    try:
        return str(names.resolve(name, project))
    except names.NoProjectError:
        raise ConfigError(
            f"{source}: secret {name!r} is a short name, but {project_setting} is not set; "
            "set it, or use the full form projects/PROJECT/secrets/SECRET"
        ) from None
    except names.NameFormError as error:
        what = "" if error.detail is None else f" ({error.detail})"
        raise ConfigError(
            f"{source}: {_describe(name)} is not a secret name{what}; use {SECRET_NAME_FORM}"
        ) from None


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate: undecodable bytes, or a bad ``\\ud800`` escape."""
    return any("\ud800" <= char <= "\udfff" for char in text)


def _describe(text: str) -> str:
    # Configuration is not secret, but keep messages short and printable. surrogatepass: a value
    # with lone surrogates is shown as hex, never put into the message (it could not be printed).
    if len(text) <= 80 and text.isprintable():
        return repr(text)
    return repr(text[:40].encode("utf-8", "surrogatepass").hex() + "...")


def load_config(env: Mapping[str, str], *, names: Mapping[str, str] | None = None) -> Config:
    """Parse the environment; raise ConfigError naming the first bad variable.

    ``names`` maps a variable to how the user set it, when that was not the variable itself
    (the CLI's ``--secrets`` and ``--project``), so messages name what the user typed.
    """
    names = names or {}
    project = _project(env, names)
    label = _label(env, project)
    config = Config(
        secrets=_secrets(
            _get(env, "ROTATION_SECRETS", SECRETS_FORM),
            project,
            source=names.get("ROTATION_SECRETS", "ROTATION_SECRETS"),
            project_setting=names.get("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT"),
            optional=label is not None,
        ),
        project=project,
        rotation_label=label,
        locations=_locations(env, label),
        refresh_before=_duration(env, "REFRESH_BEFORE", Config.refresh_before),
        retention=_duration(env, "RETENTION", Config.retention),
        destroy_after=_optional_duration(env, "DESTROY_AFTER"),
        min_enabled_versions=_whole_number(
            env, "MIN_ENABLED_VERSIONS", Config.min_enabled_versions, most=MAX_MIN_ENABLED_VERSIONS
        ),
        dry_run=_bool(env, "DRY_RUN", default=Config.dry_run),
        secret_manager_emulator_host=_host_port(env, "SECRET_MANAGER_EMULATOR_HOST"),
        momento_control_endpoint=_host_port(env, "MOMENTO_CONTROL_ENDPOINT"),
        momento_control_insecure=_bool(env, "MOMENTO_CONTROL_INSECURE", default=False),
        momento_timeout=_duration(env, "MOMENTO_TIMEOUT", Config.momento_timeout),
        store_deadline=_duration(env, "STORE_DEADLINE", Config.store_deadline),
        lease_duration=_duration(env, "LEASE_DURATION", Config.lease_duration),
        reads_per_minute=_whole_number(
            env,
            "SECRET_MANAGER_READS_PER_MINUTE",
            Config.reads_per_minute,
            most=MAX_CALLS_PER_MINUTE,
        ),
        writes_per_minute=_whole_number(
            env,
            "SECRET_MANAGER_WRITES_PER_MINUTE",
            Config.writes_per_minute,
            least=MIN_WRITES_PER_MINUTE,
            most=MAX_CALLS_PER_MINUTE,
        ),
        function_timeout=_optional_duration(env, "FUNCTION_TIMEOUT"),
        schedule=_schedule(env),
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


LOCATIONS_FORM = "a comma-separated list of location ids, such as us-central1,europe-west4"


def _locations(env: Mapping[str, str], label: tuple[str, str] | None) -> tuple[str, ...]:
    """ROTATION_LOCATIONS: where ROTATION_LABEL looks for regional secrets."""
    raw = _get(env, "ROTATION_LOCATIONS", LOCATIONS_FORM)
    locations = [part.strip() for part in raw.split(",") if part.strip()]
    for location in locations:
        if not names.is_location(location):
            raise ConfigError(
                f"ROTATION_LOCATIONS: {_describe(location)} is not a location id; use "
                f"{LOCATIONS_FORM}"
            )
    if locations and label is None:
        raise ConfigError(
            "ROTATION_LOCATIONS is set, but ROTATION_LABEL is not: the locations say where the "
            "label is looked for; list regional secrets by name in ROTATION_SECRETS instead"
        )
    return tuple(dict.fromkeys(locations))


def _schedule(env: Mapping[str, str]) -> CronSchedule | None:
    """ROTATION_SCHEDULE in ROTATION_TIME_ZONE (default Etc/UTC, Cloud Scheduler's)."""
    expression = _get(env, "ROTATION_SCHEDULE", CRON_FORM)
    time_zone = _get(env, "ROTATION_TIME_ZONE", "a tz database time zone, such as Etc/UTC")
    if not expression:
        if time_zone:
            raise ConfigError(
                "ROTATION_TIME_ZONE is set, but ROTATION_SCHEDULE is not: set both (deploy.sh "
                "passes the job's --schedule and --time-zone), or neither"
            )
        return None
    try:
        return parse_schedule(expression, time_zone or "Etc/UTC")
    except TimeZoneError as error:
        raise ConfigError(f"ROTATION_TIME_ZONE: {error}") from None
    except ScheduleError as error:
        raise ConfigError(f"ROTATION_SCHEDULE: {error}") from None


def _get(env: Mapping[str, str], variable: str, form: str) -> str:
    """The variable's value without surrounding whitespace; "" when unset."""
    raw = env.get(variable, "")
    if has_surrogates(raw):
        # Linux hands Python undecodable bytes as lone surrogates; say so, and echo none of it.
        raise ConfigError(f"{variable} is not valid UTF-8; set it to {form}")
    return raw.strip()


def _project(env: Mapping[str, str], names: Mapping[str, str]) -> str | None:
    for variable in ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT"):
        raw = _get(env, variable, PROJECT_FORM)
        if raw:
            if not _PROJECT_ID.fullmatch(raw):
                shown = names.get(variable, variable)
                raise ConfigError(f"{shown}={_describe(raw)} is not valid; use {PROJECT_FORM}")
            return raw
    return None


def _secrets(
    raw: str, project: str | None, *, source: str, project_setting: str, optional: bool
) -> tuple[str, ...]:
    names = [part for part in (piece.strip() for piece in raw.split(",")) if part]
    if not names and not optional:
        raise ConfigError(
            f"{source} is empty; set it to {SECRETS_FORM}, or set ROTATION_LABEL to manage the "
            "secrets carrying a label"
        )
    resolved = [
        resolve_secret_name(name, project, source=source, project_setting=project_setting)
        for name in names
    ]
    return tuple(dict.fromkeys(resolved))  # keep order, drop repeats


def _label_char(char: str, *, first: bool) -> bool:
    if unicodedata.category(char) in {"Ll", "Lo"}:
        return True
    return not first and (char in "_-" or unicodedata.category(char).startswith("N"))


def _label(env: Mapping[str, str], project: str | None) -> tuple[str, str] | None:
    """ROTATION_LABEL's key=value, checked against Secret Manager's label rules."""
    raw = _get(env, "ROTATION_LABEL", LABEL_FORM)
    if not raw:
        return None
    key, equals, value = raw.partition("=")
    valid = (
        equals == "="
        and 1 <= len(key) <= 63
        and _label_char(key[0], first=True)
        and all(_label_char(c, first=False) for c in key)
        and len(value) <= 63
        and all(_label_char(c, first=False) for c in value)
    )
    if not valid:
        raise ConfigError(f"ROTATION_LABEL={_describe(raw)} is not valid; use {LABEL_FORM}")
    if not project:
        raise ConfigError(
            "ROTATION_LABEL is set, but GOOGLE_CLOUD_PROJECT is not: set it to the project whose "
            "labelled secrets to manage"
        )
    return key, value


def _optional_duration(env: Mapping[str, str], variable: str) -> timedelta | None:
    """None when the variable is unset or blank; otherwise as :func:`_duration`."""
    if not env.get(variable, "").strip():
        return None
    return _duration(env, variable, timedelta(0))


def _duration(env: Mapping[str, str], variable: str, default: timedelta) -> timedelta:
    longest = LONGEST[variable]
    form = f"{DURATION_FORM}, at most {format_duration(longest)}"
    raw = _get(env, variable, form)
    if not raw:
        return default
    try:
        value = parse_duration(raw, longest=longest)
    except DurationTooLongError:
        raise ConfigError(
            f"{variable}={_describe(raw)} is too long; the longest accepted is "
            f"{format_duration(longest)}; use {DURATION_FORM}"
        ) from None
    except ValueError:
        raise ConfigError(f"{variable}={_describe(raw)} is not valid; use {form}") from None
    if value <= timedelta(0):
        raise ConfigError(f"{variable} must be longer than zero; use {form}")
    return value


def _whole_number(
    env: Mapping[str, str], variable: str, default: int, *, most: int, least: int = 1
) -> int:
    form = f"a whole number from {least} to {most}, in digits 0-9"
    raw = _get(env, variable, form)
    if not raw:
        return default
    # Not str.isdigit(): it is true for "²", which int() refuses, and for "٣", which int() reads.
    # Count digits before int(), which refuses very long strings (and they are too big anyway).
    digits = raw.lstrip("0")
    if (
        not _DIGITS.fullmatch(raw)
        or not 0 < len(digits) <= len(str(most))
        or not least <= int(digits) <= most
    ):
        raise ConfigError(f"{variable}={_describe(raw)} is not valid; use {form}")
    return int(digits)


def _bool(env: Mapping[str, str], variable: str, *, default: bool) -> bool:
    if variable not in env:
        return default
    raw = _get(env, variable, BOOL_FORM)
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{variable}={_describe(raw)} is not valid; use {BOOL_FORM}")


def _host_port(env: Mapping[str, str], variable: str) -> str | None:
    raw = _get(env, variable, HOST_PORT_FORM)
    if not raw:
        return None
    match = _HOST_PORT.fullmatch(raw)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ConfigError(f"{variable}={_describe(raw)} is not valid; use {HOST_PORT_FORM}")
    return raw
