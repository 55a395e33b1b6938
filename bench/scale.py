"""Import at scale: the dev set repeated N times (ids made unique), imported into a new store.

    .venv/bin/python bench/scale.py                 # sizes 1, 2, 4, 10 (x the dev set)
    .venv/bin/python bench/scale.py --sizes 1,10,87 # 87x ~ a million traces (needs ~6.5 GB of disk)

For each size prints traces, file size, import wall time and the import process's peak RSS (target:
peak under 1.5 GB whatever the size: the import streams batches, so memory does not grow with the
file). Each import runs in a fresh process (`workbench import`, the CLI users run). This is the
import part of issue 18's bench; analysis and page times are measured by other benches.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"
# runs the CLI in this process, then reports this process's peak RSS (DuckDB's memory included)
_CHILD = ("import resource, sys; from workbench.cli import main; rc = main(sys.argv[1:]); "
          "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)")


def write_copies(src: Path, dst: Path, n: int) -> int:
    """`n` copies of `src` with ids made unique (`<id>#copy<k>` for k >= 1). Returns the record count."""
    count = 0
    with src.open("rb") as f:
        lines = [ln for ln in f if ln.strip()]
    with dst.open("wb") as out:
        for k in range(n):
            for ln in lines:
                if k:
                    rec = json.loads(ln)
                    rec["id"] = f"{rec['id']}#copy{k}"
                    ln = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
                out.write(ln)
                count += 1
    return count


def measure(path: Path, db: Path) -> tuple[float, float]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, "import", str(path), "--db", str(db)], cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"import failed: {proc.stderr[-2000:]}")
    kb = next(int(ln.split()[1]) for ln in proc.stderr.splitlines() if ln.startswith("PEAK_RSS_KB"))
    return wall, kb / 1024 / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,2,4,10", help="comma-separated multiples of the dev set")
    ap.add_argument("--source", type=Path, default=DEFAULT)
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the generated files (default: system tmp)")
    args = ap.parse_args()
    if not args.source.exists():
        print(f"skipped: {args.source} not found (the real traces live in ../shared)")
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"{'size':>5} {'traces':>9} {'file MB':>8} {'import s':>9} {'traces/s':>9} {'peak RSS GB':>12}")
    worst = 0.0
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for n in sizes:
            path = Path(tmp) / f"dev_x{n}.jsonl"
            count = write_copies(args.source, path, n)
            mb = path.stat().st_size / 1e6
            wall, peak = measure(path, Path(tmp) / f"store_x{n}.duckdb")
            worst = max(worst, peak)
            print(f"{n:>4}x {count:>9} {mb:>8.0f} {wall:>9.1f} {count / wall:>9.0f} {peak:>12.2f}", flush=True)
            path.unlink()
            for p in Path(tmp).glob(f"store_x{n}.duckdb*"):
                p.unlink()
    print(f"target: peak RSS under 1.5 GB at every size: {'met' if worst < 1.5 else 'NOT met'} (worst {worst:.2f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
