"""Configuration from the environment: defaults, forms, and messages that say what to fix."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rotation.config import load_config
from rotation.durations import format_duration, parse_duration
from rotation.errors import ConfigError

BASE = {"ROTATION_SECRETS": "momento-key", "GOOGLE_CLOUD_PROJECT": "demo-project"}


def test_defaults() -> None:
    config = load_config(BASE)
    assert config.secrets == ("projects/demo-project/secrets/momento-key",)
    assert config.refresh_before == timedelta(days=3)
    assert config.retention == timedelta(days=7)
    assert config.min_enabled_versions == 1
    assert config.dry_run is False
    assert config.secret_manager_emulator_host is None
    assert config.momento_control_endpoint is None


def test_full_and_short_names_mix_and_deduplicate() -> None:
    config = load_config(
        {
            **BASE,
            "ROTATION_SECRETS": " a , projects/other/secrets/b,a,projects/demo-project/secrets/a",
        }
    )
    assert config.secrets == ("projects/demo-project/secrets/a", "projects/other/secrets/b")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90m", 5400), ("72h", 259200), ("3d", 259200), ("3600s", 3600), (" 5 m ", 300)],
)
def test_duration_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(("seconds", "text"), [(259200, "3d"), (5400, "90m"), (61, "61s")])
def test_duration_formatting(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROTATION_SECRETS": ""}, "ROTATION_SECRETS is empty"),
        ({"ROTATION_SECRETS": " , "}, "ROTATION_SECRETS is empty"),
        ({"GOOGLE_CLOUD_PROJECT": ""}, "GOOGLE_CLOUD_PROJECT is not set"),
        ({"ROTATION_SECRETS": "projects/p/secrets/a/versions/1"}, "is not a secret name"),
        ({"ROTATION_SECRETS": "../etc"}, "is not a secret name"),
        ({"REFRESH_BEFORE": "3 days"}, r"REFRESH_BEFORE='3 days' is not valid; use a whole number"),
        ({"REFRESH_BEFORE": "0s"}, "REFRESH_BEFORE must be longer than zero"),
        ({"RETENTION": "1w"}, "RETENTION='1w' is not valid"),
        ({"MIN_ENABLED_VERSIONS": "0"}, "MIN_ENABLED_VERSIONS='0' is not valid"),
        ({"MIN_ENABLED_VERSIONS": "two"}, "MIN_ENABLED_VERSIONS='two' is not valid"),
        ({"DRY_RUN": "maybe"}, "DRY_RUN='maybe' is not valid; use true or false"),
        (
            {"SECRET_MANAGER_EMULATOR_HOST": "localhost"},
            "SECRET_MANAGER_EMULATOR_HOST=.* use host:port",
        ),
        ({"MOMENTO_CONTROL_ENDPOINT": "h:99999"}, "MOMENTO_CONTROL_ENDPOINT=.* use host:port"),
        ({"MOMENTO_CONTROL_INSECURE": "sure"}, "MOMENTO_CONTROL_INSECURE='sure'"),
    ],
)
def test_bad_values_name_the_variable_and_the_form(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({**BASE, **env})


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("1", True), ("FALSE", False), ("", False)]
)
def test_booleans(raw: str, value: bool) -> None:
    assert load_config({**BASE, "DRY_RUN": raw}).dry_run is value
