"""Run the whole suite against a simulated scenario in a separate process, as a user would, and read back
what happened: each test's outcome and message (from JUnit XML), the output, the exit code, and every
request the simulated cluster served."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE_TESTS = 53  # the suite's checks; with the default profile four policy checks and three of own load skip


@dataclass
class Outcome:
    outcome: str      # passed, failed, error, skipped
    message: str
    properties: dict[str, str] = field(default_factory=dict)   # the test's user_properties, from JUnit XML


@dataclass
class Run:
    scenario: str
    code: int
    output: str
    tests: dict[str, Outcome]          # "test_10_istio::test_istiod_available" -> outcome
    served: list[dict]

    def failed(self) -> dict[str, Outcome]:
        return {k: v for k, v in self.tests.items() if v.outcome in ("failed", "error")}

    def module_of(self, test: str) -> str:
        return test.split("::")[0]


def run_suite(*args: str, scenario: str | None = "healthy", timeout: float = 300) -> Run:
    with tempfile.TemporaryDirectory(prefix="meshcheck-test-") as tmp:
        junit, record = Path(tmp) / "junit.xml", Path(tmp) / "served.jsonl"
        command = [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q",
                   f"--junitxml={junit}", "--basetemp", str(Path(tmp) / "base")]
        if scenario is not None:
            command += ["--cluster=sim", f"--sim-scenario={scenario}", f"--sim-record={record}"]
        command += list(args)
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        tests = _read_junit(junit) if junit.exists() else {}
        served = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return Run(scenario or "", done.returncode, done.stdout + done.stderr, tests, served)


def _read_junit(path: Path) -> dict[str, Outcome]:
    tests: dict[str, Outcome] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        key = f"{module}::{case.get('name')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = (node.get("message") or "") + "\n" + (node.text or "")
                break
        properties = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        tests[key] = Outcome(outcome, message, properties)
    return tests
