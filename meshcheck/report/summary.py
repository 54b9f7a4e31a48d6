"""The run in one document: which cluster, which suite, when, the score, and every check's record.

The JSON summary (``--report-json``) is this document as it is; the terminal table, the HTML report and
the JUnit properties show parts of it. Its shape is versioned (``SCHEMA``) and documented by the JSON
Schema beside this module (``report-v1.schema.json``); a field is only ever added within a version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from meshcheck.report.record import CheckRecord
from meshcheck.report.score import Score

SCHEMA = "meshcheck.report/v1"
SCHEMA_FILE = Path(__file__).with_name("report-v1.schema.json")


def suite_version() -> str:
    try:
        return metadata.version("meshcheck")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class About:
    """What every report names first: the cluster it is about, the suite that judged it, and when."""

    context: str          # the kubeconfig context ("in-cluster" for a service account), or the run's own cluster
    server: str           # the API server's address (an address only: credentials never reach a report)
    suite_version: str
    started: float
    finished: float
    rubric: str
    profile: str
    api_requests: int
    created_cluster: bool  # the suite created (and deployed) this cluster itself

    @property
    def title(self) -> str:
        return f"meshcheck {self.suite_version}: {self.context} ({self.server})"

    def lines(self) -> list[tuple[str, str]]:
        return [
            ("cluster", self.context),
            ("API server", self.server),
            ("suite", f"meshcheck {self.suite_version}"),
            ("rubric", self.rubric),
            ("profile", self.profile),
            ("started", timestamp(self.started)),
            ("duration", f"{self.finished - self.started:.1f} s"),
            ("API requests", str(self.api_requests)),
        ]


def document(about: About, score: Score, records: list[CheckRecord]) -> dict[str, Any]:
    layers = [
        {
            "layer": s.layer, "title": s.title, "goal": s.goal, "state": s.state,
            "points": s.points, "max_points": s.max,
            "passed": s.passed, "failed": s.failed, "blocked": s.blocked, "skipped": s.skipped,
            "cause": s.cause,
        }
        for s in score.layers
    ]
    checks = []
    for record in records:
        points = score.checks.get(record.id)
        checks.append({**record.to_dict(), "points": points.points if points else 0.0,
                       "max_points": points.max if points else 0.0})
    return {
        "schema": SCHEMA,
        "suite": {"name": "meshcheck", "version": about.suite_version},
        "cluster": {"context": about.context, "server": about.server, "created_by_suite": about.created_cluster},
        "run": {
            "started": timestamp(about.started),
            "finished": timestamp(about.finished),
            "duration_s": round(about.finished - about.started, 3),
            "api_requests": about.api_requests,
            "rubric": about.rubric,
            "profile": about.profile,
        },
        "score": {"points": score.points, "max_points": score.max, "layers": layers},
        "checks": checks,
    }


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
