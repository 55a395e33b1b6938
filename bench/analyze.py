"""End-to-end speed: import + analyze of the dev set, per-detector MB/s, and linearity at 4x.

    .venv/bin/python bench/analyze.py [PATH]

Prints the wall time of `workbench import` + `workbench analyze` (both real CLI processes, both
cores) on the dev set and on a 4x input (the set repeated under new ids), and single-core MB/s of
each stage measured in-process on the same text.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"


def end_to_end(path: Path, tmp: Path) -> tuple[float, float]:
    db = tmp / f"{path.stem}.duckdb"
    wb = [sys.executable, "-m", "workbench.cli"]
    t = time.perf_counter()
    subprocess.run([*wb, "import", str(path), "--db", str(db)], check=True, capture_output=True)
    t_import = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([*wb, "analyze", "--db", str(db)], check=True, capture_output=True)
    return t_import, time.perf_counter() - t


def per_stage(rows: list[dict]) -> None:
    from workbench.analysis import grounding, language, repetition
    from workbench.analysis.answers import trace_stats
    from workbench.analysis.steps import segment
    mb = sum(len(r["response"].encode()) for r in rows) / 1e6
    t = time.perf_counter()
    steps = [segment(r["response"]) for r in rows]
    timings = {"steps": time.perf_counter() - t}
    stages = {
        "answers + trace stats": lambda r, s: trace_stats(r["response"], s, ground_truth=r.get("ground_truth")),
        "language_mixing": lambda r, s: language.detect(r["response"], question=r["question"], steps=s),
        "repetition_loop": lambda r, s: repetition.detect(r["response"], steps=s),
        "grounding_loss": lambda r, s: grounding.detect(r["response"], steps=s, has_image=True),
    }
    for name, fn in stages.items():
        t = time.perf_counter()
        for r, s in zip(rows, steps):
            fn(r, s)
        timings[name] = time.perf_counter() - t
    print(f"single-core throughput on {mb:.1f} MB of responses (grounding run as if every sample had an image):")
    for name, sec in timings.items():
        print(f"  {name:24} {sec:6.2f} s  {mb / sec:6.1f} MB/s")


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.exists():
        print(f"skipped: {path} not found (the real traces live in ../shared)")
        return 0
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    mb = path.stat().st_size / 1e6
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        big = tmp / "dev_x4.jsonl"
        with big.open("w", encoding="utf-8") as f:
            for k in range(4):
                for r in rows:
                    f.write(json.dumps(dict(r, id=f"{r['id']}#copy{k}"), ensure_ascii=False) + "\n")
        results = {}
        for p, label in ((path, "1x"), (big, "4x")):
            ti, ta = end_to_end(p, tmp)
            size = p.stat().st_size / 1e6
            results[label] = ti + ta
            print(f"{label}: {size:6.1f} MB, {sum(1 for _ in p.open()):6d} traces: "
                  f"import {ti:5.1f} s + analyze {ta:5.1f} s"
                  f" = {ti + ta:5.1f} s end to end ({size / (ti + ta):.1f} MB/s)")
        print(f"4x / 1x time ratio: {results['4x'] / results['1x']:.2f} (linear = 4.0); "
              f"target for 1x: < 20 s: {'met' if results['1x'] < 20 else 'NOT met'} (input {mb:.0f} MB)")
    per_stage(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
