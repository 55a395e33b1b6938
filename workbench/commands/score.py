"""`workbench score`: accuracy per benchmark and subset, and QVQ's own benchmarks beside its model card."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from workbench.commands import add_db_option, add_run_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score", help="accuracy per benchmark and subset; QVQ's benchmarks beside its model card",
        description="Accuracy per run, benchmark and subset by the benchmark's rules: the source's own grade "
                    "where the result file has one, else the workbench's (run `workbench analyze` first). Each "
                    "row says where its grades came from, how many traces ran out and the accuracy of the "
                    "complete ones. Runs of QVQ-72B-Preview's own benchmarks (MMMU, MathVista, MathVision, "
                    "OlympiadBench) are set beside the model card's figures, with the points truncation costs.")
    add_db_option(p)
    add_run_option(p, multiple=True)
    p.add_argument("--subsets", action="store_true", help="also list every subset (default: benchmarks only)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=run)


def _pct(v: float | None, scale: float = 100.0) -> str:
    return "" if v is None else f"{scale * v:.1f}"


def _table(cols: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from workbench.store import connect
    from workbench.store.runs import resolve_runs
    from workbench.store.scores import model_card, scores
    with connect(args.db) as con:
        runs = resolve_runs(con, args.run)
        rows = scores(con, runs)
    card = model_card(rows)
    shown = [r for r in rows if r["is_total"] or args.subsets]
    if args.format == "json":
        for r in shown:
            print(json.dumps({"table": "scores", **r}, default=str))
        for r in card:
            print(json.dumps({"table": "model_card", **r}, default=str))
        return 0
    if args.format == "csv":
        w = csv.writer(sys.stdout)
        cols = [c for c in (shown[0] if shown else {}) if c != "is_total"]
        w.writerow(["level", *cols])
        for r in shown:
            w.writerow(["benchmark" if r["is_total"] else "subset"] + [r[c] for c in cols])
        return 0
    if not rows:
        print("no samples yet: `workbench import FILE` or `workbench demo`")
        return 0
    print(_table(["run", "benchmark", "subset", "samples", "graded", "accuracy %", "grades from", "truncated",
                  "acc complete %", "acc truncated %", "agree src/wb %"],
                 [[r["run_id"] if r["is_total"] else "", r["benchmark"] if r["is_total"] else "",
                   "(all)" if r["is_total"] else r["subset"], str(r["samples"]), str(r["graded"]),
                   _pct(r["accuracy"]), r["grades_from"], str(r["truncated"]), _pct(r["acc_complete"]),
                   _pct(r["acc_truncated"]), _pct(r["agreement"])] for r in shown]))
    missing = sum(r["not_analysed"] for r in rows if r["is_total"])
    if missing:
        print(f"\n{missing} samples are not analysed yet: their workbench grades and truncation are missing "
              f"(`workbench analyze`)")
    print("\nQVQ-72B-Preview's benchmarks beside its model card (accuracy %; truncation cost = accuracy of the "
          "complete traces minus the run's):")
    print(_table(["benchmark", "model card", "run", "model", "graded", "accuracy", "gap", "truncated",
                  "acc complete", "acc truncated", "truncation cost", "grades from"],
                 [_card_row(r) for r in card]))
    return 0


def _card_row(r: dict[str, Any]) -> list[str]:
    if r["run_id"] is None:
        return [r["benchmark"], f"{r['model_card']:.1f}", "(no run imported)"] + [""] * 9

    def f(v: float | None, sign: bool = False) -> str:
        return "" if v is None else (f"{v:+.1f}" if sign else f"{v:.1f}")
    return [r["benchmark"], f"{r['model_card']:.1f}", r["run_id"], r["model"] or "", str(r["graded"]),
            f(r["accuracy"]), f(r["gap"], True), _pct(r["truncated_share"]) + "%", f(r["acc_complete"]),
            f(r["acc_truncated"]), f(r["truncation_cost"], True), r["grades_from"]]
