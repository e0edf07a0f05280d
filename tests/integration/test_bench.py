"""The benchmark keeps running (its figures are read by people, never asserted here)."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.conftest import ROOT


def test_benchmark_runs_and_shows_momento_stays_off_the_skip_path() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.bench", "--rounds", "1", "--requests", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert any(
        line.split()[:3] == ["nothing", "to", "refresh"] and line.endswith("no") for line in lines
    ), done.stdout
    assert any(line.split()[:1] == ["refresh"] and line.endswith("yes") for line in lines)
    assert any("requests/s" in line for line in lines)
