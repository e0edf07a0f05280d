"""The benchmark's smoke mode runs, and what each path sends is exactly what the README says.

Call counts are deterministic, so they are asserted exactly; times are read by people, never
asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.integration.conftest import ROOT

# Per path: Secret Manager calls by quota kind (access; read = get/list; write = add, update,
# disable), and Momento calls (refresh, verify).
EXPECTED_CALLS = {
    # access the latest; get the secret (its expiry, aliases, lease); list versions to sweep
    "skip": {"access": 1, "read": 2, "write": 0, "momento": 0},
    # ... and disable 4 (the aliases came with the get)
    "skip + sweep of 4": {"access": 1, "read": 2, "write": 4, "momento": 0},
    # access; get the secret; take the lease (CAS); refresh; add; verify; list
    "refresh": {"access": 1, "read": 2, "write": 2, "momento": 2},
    # ... and the 4 disables
    "refresh + sweep of 4": {"access": 1, "read": 2, "write": 6, "momento": 2},
    # access; get the secret: its lease, superseded moments ago, says refreshed; list
    "forced again at once": {"access": 1, "read": 2, "write": 0, "momento": 0},
}


def test_benchmark_smoke_counts_every_call_exactly(tmp_path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "devtools.bench", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results = json.loads(output.read_text())
    assert results["calls"] == EXPECTED_CALLS, done.stdout
    assert results["calls_most_in_1s"] == {"per_secret": 2, "per_version": 1}
    (backlog,) = results["backlogs"]
    assert (backlog["enabled_left"], backlog["statuses"], backlog["error_lines"]) == (1, [200], 0)
    assert results["cold_start"]["momento_imported_on_skip"] is False
    fleet = results["fleets"]["concurrent"]
    assert (fleet["writes"], fleet["reads"]) == (2 * fleet["secrets"], 2 * fleet["secrets"])
    assert fleet["most_writes_to_one_secret_in_1s"] <= 2
    assert "goals:" in done.stdout
