"""Fixtures shared by every tier: an isolated environment for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devtools.reliability_report import ReliabilityReport


def pytest_configure(config: pytest.Config) -> None:
    """Print the reliability report at the end of every run that includes its scenarios."""
    if not any(isinstance(p, ReliabilityReport) for p in config.pluginmanager.get_plugins()):
        config.pluginmanager.register(ReliabilityReport(), "reliability-report")


_ROTATION_VARIABLES = (
    "ROTATION_SECRETS",
    "GOOGLE_CLOUD_PROJECT",
    "GCP_PROJECT",
    "REFRESH_BEFORE",
    "RETENTION",
    "MIN_ENABLED_VERSIONS",
    "DRY_RUN",
    "SECRET_MANAGER_EMULATOR_HOST",
    "MOMENTO_CONTROL_ENDPOINT",
    "MOMENTO_CONTROL_INSECURE",
    "MOMENTO_TIMEOUT",
    "STORE_DEADLINE",
    "LEASE_DURATION",
    "ROTATION_LABEL",
)


@pytest.fixture(autouse=True)
def isolated_environment() -> Iterator[None]:
    """Each test starts without the machine's rotation settings and leaves none behind."""
    saved = dict(os.environ)
    for variable in _ROTATION_VARIABLES:
        os.environ.pop(variable, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
