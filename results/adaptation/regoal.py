"""Recompute the goals of finished adaptation analyses with the current rule (the freeze-cost
goal now needs its 95% CI to exclude 0: commit after d04080f) and rewrite summary.json and
report.md; the measured figures are untouched. Usage: python results/adaptation/regoal.py DIR..."""

import json
import sys
from pathlib import Path

from plasticagents.training.analysis.adaptation import goals, report_markdown

for directory in map(Path, sys.argv[1:]):
    summary = json.loads((directory / "summary.json").read_text())
    arms = [a for a in summary["runs"] if a != "oracle"]
    plastic = [a for a in arms if f"{a} [freeze-at-onset]" in summary["agents"]]
    static = [a for a in arms if a not in plastic]
    summary["goals"] = goals(summary, plastic[0], static[0] if static else None)
    (directory / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (directory / "report.md").write_text(report_markdown(summary))
    print(directory, [g["met"] for g in summary["goals"]])
