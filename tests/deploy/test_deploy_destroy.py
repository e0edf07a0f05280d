"""deploy.sh --destroy-after (issue #21): the function is told DESTROY_AFTER and its role gains
``secretmanager.versions.destroy``; a re-run without the flag takes both away again. Run with the
real gcloud CLI against the local fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.fake_google_apis import JSON, FakeGoogleApis

from .conftest import PROJECT, Deployer, Run

pytestmark = pytest.mark.timeout(600)

REGION = "us-central1"
SECRET = "momento-key"
ROLE = f"projects/{PROJECT}/roles/momentoKeyRotator"
FUNCTION = f"projects/{PROJECT}/locations/{REGION}/functions/momento-key-rotation"
DESTROY = "secretmanager.versions.destroy"
ARGS = ("--project", PROJECT, "--region", REGION, "--secrets", SECRET)


@dataclass(frozen=True)
class Scenario:
    with_destroy: Run
    without_destroy: Run
    after_with: JSON
    after_without: JSON


@pytest.fixture(scope="module")
def scenario(deployer: Deployer, fake: FakeGoogleApis, source: Path) -> Scenario:
    fake.add_secret(PROJECT, SECRET, (b"{}",))
    deploy = (*ARGS, "--source", str(source))
    with_destroy = deployer.run(*deploy, "--destroy-after", "30d").check()
    after_with = fake.snapshot()
    without_destroy = deployer.run(*deploy).check()
    after_without = fake.snapshot()
    return Scenario(with_destroy, without_destroy, after_with, after_without)


def role_permissions(state: JSON) -> set[str]:
    return set(state["roles"][ROLE]["includedPermissions"])


def function_variables(state: JSON) -> dict[str, str]:
    variables: dict[str, str] = state["functions"][FUNCTION]["serviceConfig"][
        "environmentVariables"
    ]
    return variables


def test_destroy_after_reaches_the_function_and_its_role_may_destroy(scenario):
    assert function_variables(scenario.after_with)["DESTROY_AFTER"] == "30d"
    assert DESTROY in role_permissions(scenario.after_with)


def test_without_destroy_after_the_permission_and_the_variable_are_taken_away(scenario):
    assert "DESTROY_AFTER" not in function_variables(scenario.after_without)
    assert role_permissions(scenario.after_without) == role_permissions(scenario.after_with) - {
        DESTROY
    }
    assert any(
        r.method == "PATCH" and r.api == "iam" and r.path == f"/v1/{ROLE}"
        for r in scenario.without_destroy.mutating
    )
