"""The README's deploy preview, run as written with the real gcloud against the local fake."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from devtools.fake_google_apis import FakeGoogleApis
from tests.keys import v1_key
from tests.readme import commands

from .conftest import DEPLOY_TIMEOUT_S, REPO


def test_the_readme_deploy_preview_plans_everything_and_sends_nothing(
    fake: FakeGoogleApis, fake_env: dict[str, str], tmp_path: Path, gcloud: str
) -> None:
    (preview,) = commands("deploy-dry-run")
    # The file the README names, where Momento's console download lands.
    download = tmp_path / "Downloads" / "momento-api-key.json"
    download.parent.mkdir()
    download.write_text(
        json.dumps({"apiKey": v1_key(exp=1_900_000_000), "refreshToken": "r", "validUntil": 0})
    )
    mark = fake.mark()

    done = subprocess.run(
        ["bash", "-c", preview],
        cwd=REPO,
        env={**fake_env, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=DEPLOY_TIMEOUT_S,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert fake.since(mark) == []
    planned = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("+")]
    for step in (
        "+ gcloud secrets create momento-api-key",
        f"+ gcloud secrets versions add momento-api-key --project=my-project --data-file={download}",
        "+ gcloud functions deploy momento-key-rotation",
        "+ gcloud scheduler jobs create http momento-key-rotation",
    ):
        assert any(line.startswith(step) for line in planned), (step, planned)
