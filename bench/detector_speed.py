"""Single-core cost of each detector's detect() alone over the dev set, optionally against an older commit.

    .venv/bin/python bench/detector_speed.py [--ref COMMIT] [--rounds N]

Segments every dev trace once (with its own has_image), then times steps.segment and each
detector's detect() over all traces. With --ref, the same modules from COMMIT (read with `git show`,
imported under other names) are timed in alternation with the current ones, round after round, so
that a noisy shared machine affects both alike; the minimum over rounds is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"
MODULES = ("steps", "language", "repetition", "grounding")


def _old_module(ref: str, name: str, tmp: Path) -> ModuleType:
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:workbench/analysis/{name}.py"],
                         check=True, capture_output=True, text=True).stdout
    path = tmp / f"old_{name}.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"old_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def _time(mods: dict[str, ModuleType], rows: list[dict], steps: list[list]) -> dict[str, float]:
    out = {}
    t = time.process_time()
    seg = mods["steps"].segment
    for r in rows:
        try:
            seg(r["response"], has_image=bool(r["n_images_in_prompt"]))
        except TypeError:  # before has_image
            seg(r["response"])
    out["steps.segment"] = time.process_time() - t
    for name in ("language", "repetition", "grounding"):
        det = mods[name].detect
        t = time.process_time()
        for r, s in zip(rows, steps):
            det(r["response"], question=r["question"], steps=s, has_image=bool(r["n_images_in_prompt"]))
        out[name] = time.process_time() - t
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", help="older commit to compare with")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not DEV.exists():
        print(f"skipped: {DEV} not found (the real traces live in ../shared)")
        return 0
    from workbench.analysis import grounding, language, repetition, steps
    rows = [json.loads(line) for line in DEV.open(encoding="utf-8")]
    mb = sum(len(r["response"].encode()) for r in rows) / 1e6
    segmented = [steps.segment(r["response"], has_image=bool(r["n_images_in_prompt"])) for r in rows]
    current = {"steps": steps, "language": language, "repetition": repetition, "grounding": grounding}
    versions = {"current": current}
    with tempfile.TemporaryDirectory() as tmp:
        if args.ref:
            sys.path.insert(0, tmp)
            versions[args.ref[:10]] = {n: _old_module(args.ref, n, Path(tmp)) for n in MODULES}
        best: dict[str, dict[str, float]] = {v: {} for v in versions}
        for _ in range(args.rounds):
            for v, mods in versions.items():
                for k, sec in _time(mods, rows, segmented).items():
                    best[v][k] = min(best[v].get(k, sec), sec)
    print(f"{len(rows)} traces, {mb:.1f} MB of responses; CPU seconds (process time), minimum of {args.rounds} rounds "
          f"(grounding runs only on the {sum(1 for r in rows if r['n_images_in_prompt'])} traces with an image)")
    names = list(best["current"])
    print(f"{'stage':16} " + " ".join(f"{v:>16}" for v in versions))
    for k in names:
        print(f"{k:16} " + " ".join(f"{best[v][k]:9.2f} s {mb / best[v][k]:4.0f}MB/s" for v in versions))
    total = {v: sum(best[v].values()) for v in versions}
    print(f"{'total':16} " + " ".join(f"{total[v]:9.2f} s" + " " * 7 for v in versions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
