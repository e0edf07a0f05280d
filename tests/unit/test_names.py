"""Secret names, global and regional: parsed, resolved and compared in one place."""

from __future__ import annotations

import pytest

from momento_key_common import names
from momento_key_common.errors import ConfigError
from rotation.rules.config import load_config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("projects/p/secrets/s", names.SecretName("p", "s")),
        ("projects/123/secrets/s", names.SecretName("123", "s")),
        ("projects/p/locations/us-central1/secrets/s", names.SecretName("p", "s", "us-central1")),
        ("projects/p/locations/US/secrets/s", None),
        ("projects/p/secrets/s/versions/1", None),
        ("projects/p/locations//secrets/s", None),
        ("s", None),
    ],
    ids=["global", "by-number", "regional", "bad-location", "version", "empty-location", "short"],
)
def test_full_names_parse_to_project_location_and_id(text: str, expected: object) -> None:
    assert names.parse(text) == expected
    if expected is not None:
        assert str(expected) == text


def test_a_version_name_belongs_to_its_secret() -> None:
    version = "projects/123/locations/europe-west4/secrets/s/versions/7"
    assert names.of(version) == names.SecretName("123", "s", "europe-west4")


def test_global_and_regional_secrets_of_one_id_are_not_the_same_place() -> None:
    global_ = names.SecretName("p", "s")
    assert not global_.same_place(names.SecretName("p", "s", "us-central1"))
    assert global_.same_place(names.SecretName("123", "s"))
    assert names.SecretName("p", "s", "us-central1").endpoint == (
        "secretmanager.us-central1.rep.googleapis.com"
    )
    assert global_.endpoint == "secretmanager.googleapis.com"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROTATION_SECRETS": "projects/p/locations/US_C/secrets/s"}, "location 'US_C' is not"),
        (
            {"ROTATION_LABEL": "rotation=momento", "ROTATION_LOCATIONS": "us-central1,Mars!"},
            "ROTATION_LOCATIONS: 'Mars!' is not a location id",
        ),
        ({"ROTATION_LOCATIONS": "us-central1"}, "ROTATION_LOCATIONS is set, but ROTATION_LABEL"),
    ],
    ids=["bad-location-in-name", "bad-location-in-list", "locations-without-label"],
)
def test_bad_regional_settings_name_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({"ROTATION_SECRETS": "s", "GOOGLE_CLOUD_PROJECT": "p", **env})


def test_regional_and_global_names_mix_in_rotation_secrets() -> None:
    config = load_config(
        {
            "GOOGLE_CLOUD_PROJECT": "p",
            "ROTATION_SECRETS": "s,projects/p/locations/us-central1/secrets/s",
            "ROTATION_LABEL": "rotation=momento",
            "ROTATION_LOCATIONS": "us-central1, europe-west4",
        }
    )
    assert config.secrets == ("projects/p/secrets/s", "projects/p/locations/us-central1/secrets/s")
    assert config.locations == ("us-central1", "europe-west4")
