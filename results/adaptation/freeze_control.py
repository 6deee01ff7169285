"""Is an ablation's cost at the onset the change's doing? Pairs, over the training seeds, the
cost of each ablation of the plastic arm (freeze-at-onset, lesion, reset-at-onset; points of
the post-onset return, as `plasticagents adaptation` measured them) under each change with its
cost on the same episodes where nothing changed at the onset (the control directory: the same
arms, seeds and episode seeds, a null change switched on at the same step). A cost that is
only the ablation's own (a gait that needs its fast weights whatever happens) shows under the
control too; an adapting rule's shows under the change only. Writes OUT (a JSON record: the
command, commit, machine, date, wall time) and prints a table. Run from the repository root:
    python results/adaptation/freeze_control.py --control CONTROL_DIR --arm "homeostatic SNN" \
        --out OUT.json CHANGE_DIR [CHANGE_DIR ...]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from paired import interval, paired  # results/adaptation/paired.py, beside this script

from plasticagents.training.record import Recorder

ABLATIONS = ("freeze-at-onset", "lesion", "reset-at-onset")


def costs(summary: dict, arm: str) -> dict[str, np.ndarray]:
    table = summary["ablation_cost_pp"]
    return {
        a: np.array(table[f"{arm} [{a}]"]["per_seed"], dtype=float)
        for a in ABLATIONS
        if f"{arm} [{a}]" in table
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("changes", nargs="+", type=Path, help="adaptation output directories")
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--arm", default="plastic SNN")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    recorder = Recorder()

    def load(d: Path) -> dict:
        summary = json.loads((d / "summary.json").read_text())
        if args.arm not in summary["agents"]:
            sys.exit(f"{d}: no arm {args.arm!r}; arms: {sorted(summary['agents'])}")
        return summary

    control_summary = load(args.control)
    control = costs(control_summary, args.arm)
    rows = {}
    for d in args.changes:
        summary = load(d)
        same = (summary[k] == control_summary[k] for k in ("seeds", "eval_seed"))
        if not all(same) or summary["runs"][args.arm] != control_summary["runs"][args.arm]:
            sys.exit(
                f"{d}: not the control's runs, seeds and episodes for {args.arm!r}; cannot pair"
            )
        change = costs(summary, args.arm)
        rows[d.name] = {
            a: {
                "cost_under_change": interval(change[a]),
                "cost_minus_control": paired(change[a], control[a]),
            }
            for a in change
            if a in control
        }
        for a, row in rows[d.name].items():
            c, m = row["cost_under_change"], row["cost_minus_control"]
            print(
                f"{d.name:32s} {a:16s} cost {c['mean']:7.1f} ± {c['half']:6.1f}  "
                f"minus control {m['mean']:7.1f} ± {m['half']:6.1f}  "
                f"(p {m['paired_t_test_p']:.3f}, higher on {m['plastic_ahead_on']}/{m['seeds']})"
            )
    outputs = {
        "arm": args.arm,
        "control": {"dir": str(args.control), **{a: interval(v) for a, v in control.items()}},
        "changes": rows,
    }
    recorder.write(args.out, outputs)


if __name__ == "__main__":
    main()
