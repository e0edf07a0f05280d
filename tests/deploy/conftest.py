"""Run the real deploy.sh with the real gcloud CLI against a local fake of Google's REST APIs.

gcloud is pointed at the fake with endpoint overrides and a proxy (see
``devtools.fake_google_apis.gcloud_env``), a throwaway ``CLOUDSDK_CONFIG`` and a throwaway
service-account key whose token endpoint is the fake, so ``gcloud auth list`` shows a login.
Calls deploy.sh sends to Secret Manager's regional endpoints
(``https://secretmanager.LOCATION.rep.googleapis.com/``) reach the fake as the proxy, over TLS
with the fake's own certificate authority, which gcloud is told to trust.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.fake_google_apis import FakeGoogleApis, RecordedRequest, gcloud_env
from tests.keys import service_account_key

REPO = Path(__file__).resolve().parents[2]
DEPLOY_SH = REPO / "deploy.sh"
PROJECT = "demo-project"
DEPLOYER = f"deployer@{PROJECT}.iam.gserviceaccount.com"
DEPLOY_TIMEOUT_S = 240


@dataclass(frozen=True)
class Run:
    """One deploy.sh run: its exit code, output and the requests it caused."""

    returncode: int
    stdout: str
    stderr: str
    requests: list[RecordedRequest]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def mutating(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.mutating]

    def requests_to(self, method: str, api: str, path_pattern: str) -> list[RecordedRequest]:
        """This run's requests with ``method`` to ``api`` at a path matching ``path_pattern``."""
        pattern = re.compile(path_pattern)
        return [
            r
            for r in self.requests
            if r.method == method and r.api == api and pattern.fullmatch(r.path)
        ]

    def check(self) -> Run:
        assert self.returncode == 0, f"deploy.sh failed ({self.returncode}):\n{self.output}"
        failed = [r for r in self.requests if r.status >= 400 and r.method != "GET"]
        assert not failed, f"failed requests: {[(r.method, r.path, r.status) for r in failed]}"
        return self


def base_env(tmp: Path) -> dict[str, str]:
    """A clean environment: nothing deploy.sh reads as an option leaks in from the caller."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


class Deployer:
    """Runs deploy.sh as a logged-in user of the fake, recording what each run sent."""

    def __init__(self, fake: FakeGoogleApis, env: dict[str, str]) -> None:
        self.fake = fake
        self.env = env

    def run(self, *args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> Run:
        mark = self.fake.mark()
        done = subprocess.run(
            [str(DEPLOY_SH), *args],
            env=env if env is not None else self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=DEPLOY_TIMEOUT_S,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr, self.fake.since(mark))


@pytest.fixture(scope="session")
def gcloud() -> str:
    """The real gcloud CLI; tests that need it are skipped, visibly, where it is missing."""
    path = shutil.which("gcloud")
    if path is None:
        pytest.skip(
            "gcloud (the Google Cloud CLI) is not on PATH: the real-CLI deploy tests need it"
        )
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the repository to deploy from, so edits made meanwhile change nothing."""
    target = tmp_path_factory.mktemp("clone") / "repo"
    shutil.copytree(
        REPO, target, ignore=shutil.ignore_patterns(".git", ".venv", "*_cache", "__pycache__")
    )
    return target


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("fake") / "requests.jsonl"
    with FakeGoogleApis(record_path=log) as server:
        yield server


@pytest.fixture(scope="module")
def fake_env(fake: FakeGoogleApis, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """deploy.sh's environment: a fresh gcloud configuration that only reaches the fake."""
    tmp = tmp_path_factory.mktemp("gcloud")
    return {**base_env(tmp), **gcloud_env(fake.base_url, tmp / "config", ca_file=fake.ca_file)}


@pytest.fixture(scope="module")
def deployer(gcloud: str, fake: FakeGoogleApis, fake_env: dict[str, str], tmp_path_factory):
    key_file = tmp_path_factory.mktemp("key") / "deployer.json"
    key_file.write_text(
        json.dumps(service_account_key(f"{fake.base_url}/oauth2/token", DEPLOYER, PROJECT))
    )
    subprocess.run(
        [gcloud, "auth", "activate-service-account", "--key-file", str(key_file)],
        env=fake_env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return Deployer(fake, fake_env)
