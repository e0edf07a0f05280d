"""Configuration from the environment: defaults, forms, and messages that say what to fix."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest

from momento_key_common.errors import ConfigError, ErrorCode
from rotation.rules.config import LONGEST, load_config
from rotation.rules.durations import DurationTooLongError, format_duration, parse_duration

BASE = {"ROTATION_SECRETS": "momento-key", "GOOGLE_CLOUD_PROJECT": "demo-project"}
# What os.environ holds on Linux for a value whose bytes are not UTF-8 (surrogateescape).
NOT_UTF8 = b"\xff\xfe".decode("utf-8", "surrogateescape")


def test_the_scheduler_job_s_schedule_is_read_in_its_time_zone() -> None:
    config = load_config(
        {**BASE, "ROTATION_SCHEDULE": "0 */6 * * *", "ROTATION_TIME_ZONE": "Europe/Riga"}
    )
    assert config.schedule is not None
    assert (config.schedule.expression, config.schedule.time_zone) == ("0 */6 * * *", "Europe/Riga")
    assert load_config(BASE).schedule is None


def test_defaults() -> None:
    config = load_config(BASE)
    assert config.secrets == ("projects/demo-project/secrets/momento-key",)
    assert config.refresh_before == timedelta(days=3)
    assert config.retention == timedelta(days=7)
    assert config.min_enabled_versions == 1
    assert config.dry_run is False
    assert config.secret_manager_emulator_host is None
    assert config.momento_control_endpoint is None
    assert (config.reads_per_minute, config.writes_per_minute) == (300, 300)


def test_full_and_short_names_mix_and_deduplicate() -> None:
    config = load_config(
        {
            **BASE,
            "ROTATION_SECRETS": " a , projects/other/secrets/b,a,projects/demo-project/secrets/a",
        }
    )
    assert config.secrets == ("projects/demo-project/secrets/a", "projects/other/secrets/b")


@pytest.mark.parametrize(
    ("env", "field", "value"),
    [
        pytest.param(
            {"MIN_ENABLED_VERSIONS": " 3\n"}, "min_enabled_versions", 3, id="int-whitespace"
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "0003"}, "min_enabled_versions", 3, id="int-leading-zeros"
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "1000"}, "min_enabled_versions", 1000, id="int-at-most"
        ),
        pytest.param(
            {"REFRESH_BEFORE": "365d"}, "refresh_before", timedelta(days=365), id="refresh-at-most"
        ),
        pytest.param(
            {"RETENTION": "3650d"}, "retention", timedelta(days=3650), id="retention-at-most"
        ),
        pytest.param(
            {"LEASE_DURATION": "1d"}, "lease_duration", timedelta(days=1), id="lease-at-most"
        ),
        pytest.param(
            {"SECRET_MANAGER_READS_PER_MINUTE": "1"}, "reads_per_minute", 1, id="reads-at-least"
        ),
        pytest.param(
            {"SECRET_MANAGER_READS_PER_MINUTE": "60000"},
            "reads_per_minute",
            60000,
            id="reads-at-most",
        ),
        pytest.param(
            {"SECRET_MANAGER_WRITES_PER_MINUTE": "2"}, "writes_per_minute", 2, id="writes-at-least"
        ),
        pytest.param(
            {"SECRET_MANAGER_WRITES_PER_MINUTE": " 0600 "},
            "writes_per_minute",
            600,
            id="writes-whitespace-zeros",
        ),
        pytest.param(
            {"GOOGLE_CLOUD_PROJECT": " demo-project\n"},
            "project",
            "demo-project",
            id="project-whitespace",
        ),
        pytest.param(
            {"GOOGLE_CLOUD_PROJECT": "", "GCP_PROJECT": "legacy"},
            "project",
            "legacy",
            id="gcp-project",
        ),
        pytest.param(
            {"GOOGLE_CLOUD_PROJECT": " ", "GCP_PROJECT": "legacy"},
            "project",
            "legacy",
            id="blank-project-falls-back",
        ),
        pytest.param(
            {"MOMENTO_CONTROL_ENDPOINT": " [::1]:8443 "},
            "momento_control_endpoint",
            "[::1]:8443",
            id="host-port-ipv6",
        ),
    ],
)
def test_good_values_at_the_edges(env: dict[str, str], field: str, value: object) -> None:
    assert getattr(load_config({**BASE, **env}), field) == value


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90m", 5400), ("72h", 259200), ("3d", 259200), ("3600s", 3600), (" 5 m ", 300), ("007s", 7)],
)
def test_duration_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text",
    ["٣d", "3\u00a0d", "3d!", "", "d", "-3d", "+3d", "3.5h", "3D"],
    ids=[
        "arabic-indic-digit",
        "nbsp",
        "trailing-punctuation",
        "empty",
        "no-number",
        "negative",
        "plus",
        "fraction",
        "upper-unit",
    ],
)
def test_duration_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="expected a whole number followed by s, m, h or d"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "longest"),
    [
        ("99999999999d", timedelta.max),
        ("9" * 5000 + "s", timedelta.max),  # past int()'s digit limit
        ("1000000000d", timedelta.max),
        ("25h", timedelta(days=1)),
    ],
    ids=["overflow", "5000-digits", "one-past-timedelta", "one-past-longest"],
)
def test_duration_too_long_says_the_longest(text: str, longest: timedelta) -> None:
    with pytest.raises(DurationTooLongError, match="expected at most "):
        parse_duration(text, longest=longest)


@pytest.mark.parametrize(("seconds", "text"), [(259200, "3d"), (5400, "90m"), (61, "61s")])
def test_duration_formatting(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"ROTATION_SECRETS": ""}, "ROTATION_SECRETS is empty", id="secrets-empty"),
        pytest.param({"ROTATION_SECRETS": " , "}, "ROTATION_SECRETS is empty", id="secrets-commas"),
        pytest.param(
            {"GOOGLE_CLOUD_PROJECT": ""}, "GOOGLE_CLOUD_PROJECT is not set", id="project-unset"
        ),
        pytest.param(
            {"ROTATION_SECRETS": "projects/p/secrets/a/versions/1"},
            "ROTATION_SECRETS: .* is not a secret name",
            id="secrets-version-path",
        ),
        pytest.param(
            {"ROTATION_SECRETS": "../etc"},
            "ROTATION_SECRETS: .* is not a secret name",
            id="secrets-dot-dot",
        ),
        pytest.param(
            {"ROTATION_SECRETS": "a\nb"},
            "ROTATION_SECRETS: .* is not a secret name",
            id="secrets-newline-inside",
        ),
        pytest.param(
            {"ROTATION_SECRETS": "a\u200b"},
            "ROTATION_SECRETS: '61e2808b...' is not a secret name",
            id="secrets-zero-width-space",
        ),
        pytest.param(
            {"ROTATION_SECRETS": "\uff41"},
            "ROTATION_SECRETS: '\uff41' is not a secret name",
            id="secrets-fullwidth",
        ),
        pytest.param(
            {"REFRESH_BEFORE": "3 days"},
            r"REFRESH_BEFORE='3 days' is not valid; use a whole number",
            id="duration-form",
        ),
        pytest.param(
            {"REFRESH_BEFORE": "0s"}, "REFRESH_BEFORE must be longer than zero", id="duration-zero"
        ),
        pytest.param(
            {"RETENTION": "1w"}, "RETENTION='1w' is not valid.*at most 3650d", id="duration-unit"
        ),
        pytest.param(
            {"RETENTION": "\u0667d"},
            "RETENTION='\u0667d' is not valid",
            id="duration-unicode-digit",
        ),
        pytest.param(
            {"RETENTION": "7\u2003d"}, "RETENTION=.* is not valid", id="duration-unicode-space"
        ),
        pytest.param(
            {"REFRESH_BEFORE": "99999999999d"},
            "REFRESH_BEFORE='99999999999d' is too long; the longest accepted is 365d",
            id="duration-overflow",
        ),
        pytest.param(
            {"REFRESH_BEFORE": "9" * 5000 + "d"},
            "REFRESH_BEFORE='3939.*\\.\\.\\.' is too long; the longest accepted is 365d",
            id="duration-5000-digits",
        ),
        pytest.param(
            {"REFRESH_BEFORE": "366d"},
            "REFRESH_BEFORE='366d' is too long; the longest accepted is 365d",
            id="refresh-before-past-longest",
        ),
        pytest.param(
            {"RETENTION": "3651d"},
            "RETENTION='3651d' is too long; the longest accepted is 3650d",
            id="retention-past-longest",
        ),
        pytest.param(
            {"MOMENTO_TIMEOUT": "61m"},
            "MOMENTO_TIMEOUT='61m' is too long; the longest accepted is 1h",
            id="momento-timeout-past-longest",
        ),
        pytest.param(
            {"STORE_DEADLINE": "3601s"},
            "STORE_DEADLINE='3601s' is too long; the longest accepted is 1h",
            id="store-deadline-past-longest",
        ),
        pytest.param(
            {"LEASE_DURATION": "25h"},
            "LEASE_DURATION='25h' is too long; the longest accepted is 1d",
            id="lease-past-longest",
        ),
        pytest.param(
            {"LEASE_DURATION": "60s"},
            "LEASE_DURATION must be longer than 2 x STORE_DEADLINE",
            id="lease-too-short",
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "0"},
            "MIN_ENABLED_VERSIONS='0' is not valid; use a whole number from 1 to 1000",
            id="int-zero",
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "two"},
            "MIN_ENABLED_VERSIONS='two' is not valid",
            id="int-word",
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "²"},
            "MIN_ENABLED_VERSIONS='²' is not valid; use a whole number from 1 to 1000, in digits 0-9",
            id="int-superscript",
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "٣"},
            "MIN_ENABLED_VERSIONS='٣' is not valid",
            id="int-arabic-indic",
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "\uff13"},
            "MIN_ENABLED_VERSIONS='\uff13' is not valid",
            id="int-fullwidth",
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "-1"},
            "MIN_ENABLED_VERSIONS='-1' is not valid",
            id="int-negative",
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "1 0"},
            "MIN_ENABLED_VERSIONS='1 0' is not valid",
            id="int-space-inside",
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "1001"},
            "MIN_ENABLED_VERSIONS='1001' is not valid; use a whole number from 1 to 1000",
            id="int-past-most",
        ),
        pytest.param(
            {"SECRET_MANAGER_WRITES_PER_MINUTE": "1"},
            "SECRET_MANAGER_WRITES_PER_MINUTE='1' is not valid; use a whole number from 2 to 60000",
            id="writes-below-least",
        ),
        pytest.param(
            {"SECRET_MANAGER_READS_PER_MINUTE": "0"},
            "SECRET_MANAGER_READS_PER_MINUTE='0' is not valid; use a whole number from 1 to 60000",
            id="reads-zero",
        ),
        pytest.param(
            {"SECRET_MANAGER_READS_PER_MINUTE": "60001"},
            "SECRET_MANAGER_READS_PER_MINUTE='60001' is not valid",
            id="reads-past-most",
        ),
        pytest.param(
            {"SECRET_MANAGER_WRITES_PER_MINUTE": "300/min"},
            "SECRET_MANAGER_WRITES_PER_MINUTE='300/min' is not valid",
            id="writes-with-unit",
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": "9" * 5000},
            "MIN_ENABLED_VERSIONS='3939.*' is not valid",
            id="int-5000-digits",
        ),
        pytest.param(
            {"DRY_RUN": "maybe"}, "DRY_RUN='maybe' is not valid; use true or false", id="bool-word"
        ),
        pytest.param(
            {"DRY_RUN": "\uff54\uff52\uff55\uff45"},
            "DRY_RUN='\uff54\uff52\uff55\uff45' is not valid; use true or false",
            id="bool-fullwidth",
        ),
        pytest.param(
            {"SECRET_MANAGER_EMULATOR_HOST": "localhost"},
            "SECRET_MANAGER_EMULATOR_HOST=.* use host:port",
            id="host-no-port",
        ),
        pytest.param(
            {"MOMENTO_CONTROL_ENDPOINT": "h:99999"},
            "MOMENTO_CONTROL_ENDPOINT=.* use host:port",
            id="host-port-range",
        ),
        pytest.param(
            {"MOMENTO_CONTROL_ENDPOINT": "h:٨٠"},
            "MOMENTO_CONTROL_ENDPOINT='h:٨٠' is not valid; use host:port",
            id="host-unicode-port",
        ),
        pytest.param(
            {"MOMENTO_CONTROL_ENDPOINT": "h:80\nx"},
            "MOMENTO_CONTROL_ENDPOINT=.* use host:port",
            id="host-newline",
        ),
        pytest.param(
            {"MOMENTO_CONTROL_INSECURE": "sure"},
            "MOMENTO_CONTROL_INSECURE='sure'",
            id="bool-insecure",
        ),
        pytest.param(
            {"GOOGLE_CLOUD_PROJECT": "Demo Project"},
            "GOOGLE_CLOUD_PROJECT='Demo Project' is not valid; use a project ID",
            id="project-form",
        ),
        pytest.param(
            {"GOOGLE_CLOUD_PROJECT": "", "GCP_PROJECT": "a/b"},
            "GCP_PROJECT='a/b' is not valid; use a project ID",
            id="gcp-project-form",
        ),
        # Not UTF-8: os.environ holds lone surrogates; named, never echoed.
        pytest.param(
            {"ROTATION_SECRETS": "a" + NOT_UTF8},
            "ROTATION_SECRETS is not valid UTF-8; set it to a comma-separated list",
            id="secrets-not-utf8",
        ),
        pytest.param(
            {"ROTATION_SECRETS": "a,\ud800"},
            "ROTATION_SECRETS is not valid UTF-8",
            id="secrets-lone-high-surrogate",
        ),
        pytest.param(
            {"GOOGLE_CLOUD_PROJECT": NOT_UTF8},
            "GOOGLE_CLOUD_PROJECT is not valid UTF-8; set it to a project ID",
            id="project-not-utf8",
        ),
        pytest.param(
            {"GOOGLE_CLOUD_PROJECT": "", "GCP_PROJECT": NOT_UTF8},
            "GCP_PROJECT is not valid UTF-8",
            id="gcp-project-not-utf8",
        ),
        pytest.param(
            {"REFRESH_BEFORE": "3d" + NOT_UTF8},
            "REFRESH_BEFORE is not valid UTF-8; set it to a whole number .* at most 365d",
            id="duration-not-utf8",
        ),
        pytest.param(
            {"MIN_ENABLED_VERSIONS": NOT_UTF8},
            "MIN_ENABLED_VERSIONS is not valid UTF-8; set it to a whole number from 1 to 1000",
            id="int-not-utf8",
        ),
        pytest.param(
            {"DRY_RUN": NOT_UTF8},
            "DRY_RUN is not valid UTF-8; set it to true or false",
            id="bool-not-utf8",
        ),
        pytest.param(
            {"MOMENTO_CONTROL_ENDPOINT": NOT_UTF8},
            "MOMENTO_CONTROL_ENDPOINT is not valid UTF-8; set it to host:port",
            id="host-not-utf8",
        ),
        pytest.param(
            {"LEASE_DURATION": NOT_UTF8}, "LEASE_DURATION is not valid UTF-8", id="lease-not-utf8"
        ),
        pytest.param(
            {"ROTATION_SCHEDULE": "every 6 hours"},
            "ROTATION_SCHEDULE: 'every 6 hours' is not a unix-cron expression",
            id="schedule-english",
        ),
        pytest.param(
            {"ROTATION_SCHEDULE": "61 * * * *"},
            "ROTATION_SCHEDULE: '61 \\* \\* \\* \\*': Bad minute",
            id="schedule-out-of-range",
        ),
        pytest.param(
            {"ROTATION_SCHEDULE": "0 3 * * *", "ROTATION_TIME_ZONE": "Mars/Olympus"},
            "ROTATION_TIME_ZONE: 'Mars/Olympus' is not a time zone",
            id="time-zone-unknown",
        ),
        pytest.param(
            {"ROTATION_TIME_ZONE": "Etc/UTC"},
            "ROTATION_TIME_ZONE is set, but ROTATION_SCHEDULE is not",
            id="time-zone-alone",
        ),
    ],
)
def test_bad_values_name_the_variable_and_the_form(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_config({**BASE, **env})
    assert caught.value.code == ErrorCode.INVALID_CONFIG
    text = caught.value.message
    # Printable anywhere: no surrogate, no control character, nothing a strict stream refuses.
    text.encode("utf-8")
    assert text.isprintable()
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    print(f"rotation: {text}", file=stderr)
    stderr.flush()


def test_every_duration_at_its_longest_is_accepted_together() -> None:
    """The ceilings agree with each other: the longest lease outlasts the longest hold."""
    config = load_config(
        {**BASE, **{name: format_duration(value) for name, value in LONGEST.items()}}
    )
    assert config.lease_duration == LONGEST["LEASE_DURATION"]
    assert config.store_deadline == LONGEST["STORE_DEADLINE"]


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("1", True), ("FALSE", False), ("", False), (" on\n", True)]
)
def test_booleans(raw: str, value: bool) -> None:
    assert load_config({**BASE, "DRY_RUN": raw}).dry_run is value


# ------------------------------------------------------------------------- ROTATION_LABEL


@pytest.mark.parametrize(
    ("env", "label", "secrets"),
    [
        ({"ROTATION_LABEL": "momento-rotation=on"}, ("momento-rotation", "on"), ()),
        ({"ROTATION_LABEL": "team=", "ROTATION_SECRETS": "a"}, ("team", ""), ("a",)),
        ({"ROTATION_LABEL": " k_1=v-2 "}, ("k_1", "v-2"), ()),
    ],
    ids=["label-alone", "empty-value-and-secrets", "underscore-dash-trimmed"],
)
def test_a_label_makes_the_secret_list_optional(
    env: dict[str, str], label: tuple[str, str], secrets: tuple[str, ...]
) -> None:
    config = load_config({"GOOGLE_CLOUD_PROJECT": "my-project", **env})
    assert config.rotation_label == label
    assert config.secrets == tuple(f"projects/my-project/secrets/{s}" for s in secrets)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ROTATION_LABEL": "Team=a"}, "ROTATION_LABEL='Team=a' is not valid"),
        ({"ROTATION_LABEL": "team"}, "ROTATION_LABEL='team' is not valid"),
        ({"ROTATION_LABEL": "1team=a"}, "is not valid"),
        ({"ROTATION_LABEL": "team=A"}, "is not valid"),
        ({"ROTATION_LABEL": "k=" + "v" * 64}, "is not valid"),
        ({"ROTATION_LABEL": "team=a", "GOOGLE_CLOUD_PROJECT": ""}, "GOOGLE_CLOUD_PROJECT is not"),
        ({}, "or set ROTATION_LABEL"),
    ],
    ids=["upper-key", "no-equals", "digit-first", "upper-value", "long-value", "no-project",
         "neither"],
)  # fmt: skip
def test_bad_labels_and_no_secrets_at_all_are_named(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(names)):
        load_config({"GOOGLE_CLOUD_PROJECT": "my-project", **env})


def test_rotation_label_is_parsed_into_key_and_value() -> None:
    config = load_config({**BASE, "ROTATION_LABEL": " rotation=momento "})
    assert config.rotation_label == ("rotation", "momento")
    assert load_config(BASE).rotation_label is None


def test_rotation_label_alone_is_enough_without_secrets() -> None:
    config = load_config({"GOOGLE_CLOUD_PROJECT": "demo-project", "ROTATION_LABEL": "team=a-1"})
    assert config.secrets == ()
    assert config.rotation_label == ("team", "a-1")


def test_neither_secrets_nor_label_names_both() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"GOOGLE_CLOUD_PROJECT": "demo-project"})
    assert "ROTATION_SECRETS" in caught.value.message
    assert "ROTATION_LABEL" in caught.value.message


@pytest.mark.parametrize(
    "value",
    [
        "k=",  # an empty value is allowed
        "k=" + "v" * 63,
        "k" * 63 + "=v",
        "é_-9=ü-_0",  # international lowercase letters are allowed
    ],
)
def test_rotation_label_edges_allowed(value: str) -> None:
    assert load_config({**BASE, "ROTATION_LABEL": value}).rotation_label is not None


@pytest.mark.parametrize(
    "value",
    [
        "novalue",
        "=v",
        "Key=v",
        "1key=v",
        "-key=v",
        "key=V",
        "key=a.b",
        "key=a=b",
        "k" * 64 + "=v",
        "k=" + "v" * 64,
        "key=a b",
    ],
)
def test_rotation_label_outside_the_label_rules_is_refused(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({**BASE, "ROTATION_LABEL": value})
    assert caught.value.message.startswith("ROTATION_LABEL=")
    assert "key=value" in caught.value.message
