"""The reliability report: the fault, input and concurrency matrix, one line per scenario.

``python -m devtools.reliability_report`` runs the scenarios marked ``reliability`` and prints
one line per scenario and the totals: scenarios, passed, keys lost (must be 0), leaks found
(must be 0) and refreshes per concurrent burst (must be 1). The same plugin is registered by
``tests/conftest.py``, so the full test suite prints the report too and fails if a total is off.

The figures come from the tests' own fixtures: the ``world`` fixture records, for every
scenario, the secret values found in any output or response (``leaks``) and the refreshed keys
that went missing without a loud report (``keys_lost``); the burst test records how many
refreshes Momento saw (``burst_refreshes``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "reliability"


@dataclass
class Scenario:
    name: str
    passed: bool = True
    properties: dict[str, Any] = field(default_factory=dict)


class ReliabilityReport:
    """A pytest plugin that tallies the scenarios marked ``reliability``."""

    def __init__(self) -> None:
        self.scenarios: dict[str, Scenario] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if MARKER not in report.keywords:
            return
        scenario = self.scenarios.setdefault(report.nodeid, Scenario(_short(report.nodeid)))
        if report.failed or (report.when == "call" and report.skipped):
            scenario.passed = False
        scenario.properties.update(dict(report.user_properties))

    def totals(self) -> dict[str, Any]:
        scenarios = list(self.scenarios.values())
        return {
            "scenarios": len(scenarios),
            "passed": sum(s.passed for s in scenarios),
            "keys_lost": sum(int(s.properties.get("keys_lost", 0)) for s in scenarios),
            "leaks": sum(int(s.properties.get("leaks", 0)) for s in scenarios),
            "bursts": [
                int(s.properties["burst_refreshes"])
                for s in scenarios
                if "burst_refreshes" in s.properties
            ],
            "reported": sum(int(s.properties.get("keys_unstored_reported", 0)) for s in scenarios),
        }

    def healthy(self, *, require_burst: bool) -> bool:
        """Every scenario passed, nothing lost or leaked, and every burst refreshed once."""
        totals = self.totals()
        return bool(
            totals["passed"] == totals["scenarios"]
            and totals["keys_lost"] == 0
            and totals["leaks"] == 0
            and all(refreshes == 1 for refreshes in totals["bursts"])
            and (totals["bursts"] or not require_burst)
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.scenarios:
            return
        write = terminalreporter.write_line
        terminalreporter.section("reliability report")
        for scenario in self.scenarios.values():
            props = scenario.properties
            detail = f"lost={props.get('keys_lost', 0)} leaks={props.get('leaks', 0)}"
            if "burst_refreshes" in props:
                detail += f" refreshes={props['burst_refreshes']}"
            write(f"{'PASS' if scenario.passed else 'FAIL'}  {scenario.name}  [{detail}]")
        write(self.totals_line())

    def totals_line(self) -> str:
        t = self.totals()
        bursts = ",".join(str(b) for b in t["bursts"]) or "none run"
        return (
            f"totals: scenarios {t['scenarios']}, passed {t['passed']}, keys lost {t['keys_lost']}"
            f", leaks found {t['leaks']}, refreshes per concurrent burst {bursts}"
            f" (refreshed keys not stored, each reported loudly: {t['reported']})"
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # The assertions in the scenarios already fail them; this catches a figure that no
        # assertion guards, so the totals line can never read green over a bad number.
        if self.scenarios and not self.healthy(require_burst=False) and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _short(nodeid: str) -> str:
    path, _, name = nodeid.partition("::")
    return f"{Path(path).stem.removeprefix('test_')}::{name}"


def main() -> int:
    report = ReliabilityReport()
    code = pytest.main(
        ["-m", MARKER, "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "integration")],
        plugins=[report],
    )
    if not report.scenarios or not report.healthy(require_burst=True):
        return 1
    return int(code)


if __name__ == "__main__":
    # Run the importable module's main, so that tests/conftest.py sees the same plugin class
    # (under ``python -m`` this file is also loaded as ``__main__``, a different class).
    from devtools.reliability_report import main as module_main

    sys.exit(module_main())
