"""Grading: agreement of the workbench's grades with each source's own grade, and truncation on short answers.

    .venv/bin/python bench/grading.py [--dev PATH] [--real DIR] [--no-dev] [--show N]

- Dev set (../shared/data/qvq-traces/dev.jsonl): imported and analysed with the real CLI into a
  temporary store; `trace_stats.extracted_correct` (the reported answer `final_answer_turn`, graded by
  the benchmark's rules) against the set's own `correct`; the trace's own conclusion against it on
  complete traces; truncation counts.
- Real outputs of other projects (DIR, default ../realfiles-grading; fetched for development and kept
  out of the repository): MMMU-Pro outputs (`if_right`), MathVista outputs (`true_false`), MATH-V
  outputs (`correct`, ground truth from its test.jsonl), MMMU example outputs (no per-sample grade: the
  reference is MMMU's own parser + judge run on them, `*_judge.json`). Each file is graded in-process
  with `answers.trace_stats` on the fields an importer maps: with the source's reported answer where the
  file has one (`pred_indexs`, `extraction`, `model_answer`) and from the trace alone.
  Prints per file: agreement with the source's grade, and the accuracy the workbench gives the run with
  the grades removed next to the source's own accuracy (the benchmark's judge).
- Short complete answers (one paragraph <= 300 characters, no finish_reason = length): share marked truncated.
A missing figure means the files are absent (the line says so).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.analysis.answers import trace_stats  # noqa: E402
from workbench.analysis.truncation import is_short  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"
REAL = ROOT.parent / "realfiles-grading"


def _bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if v is None:
        return None
    return str(v).strip().lower() in ("true", "1", "1.0", "yes")


# ------------------------------------------------------------------ readers: one per source shape ------

def mmmu_pro(path: Path) -> Iterator[dict]:
    for line in path.open(encoding="utf-8"):
        r = json.loads(line)
        resp = r.get("response")
        yield {"response": resp if isinstance(resp, str) else "", "reported": r.get("pred_indexs"),
               "ground_truth": r.get("answer"), "question": r.get("question"),
               "metadata": {"options": r.get("options")}, "benchmark": "MMMU-Pro", "correct": _bool(r.get("if_right"))}


def mathvista(path: Path) -> Iterator[dict]:
    data = json.load(path.open(encoding="utf-8"))
    for r in data.values():
        if "true_false" not in r:
            continue
        meta = {k: r.get(k) for k in ("choices", "question_type", "answer_type", "precision", "unit", "metadata")}
        yield {"response": r.get("response") or "", "reported": r.get("extraction"),
               "ground_truth": r.get("answer"), "question": r.get("query") or r.get("question"),
               "metadata": meta, "benchmark": "MathVista", "correct": _bool(r.get("true_false"))}


def mathv(path: Path) -> Iterator[dict]:
    truth = {str(d["id"]): d for d in map(json.loads, (path.parent / "test_data.jsonl").open(encoding="utf-8"))}
    for line in path.open(encoding="utf-8"):
        r = json.loads(line)
        d = truth[str(r["id"])]
        yield {"response": r.get("response") or "", "reported": r.get("model_answer"),
               "ground_truth": d["answer"], "question": d["question"], "metadata": {"options": d["options"]},
               "benchmark": "MathVision", "correct": _bool(r.get("correct"))}


def mmmu(path: Path) -> Iterator[dict]:
    judge = json.load(path.with_name(path.name.replace("_responses.json", "_judge.json")).open())
    answers = json.load((path.parent / "answer_dict_val.json").open())
    for r in json.load(path.open(encoding="utf-8")):
        yield {"response": r["response"], "reported": None, "ground_truth": str(answers[r["id"]]["ground_truth"]),
               "question": "", "metadata": {k: r.get(k) for k in ("question_type", "all_choices", "index2ans")},
               "benchmark": "MMMU", "correct": judge[r["id"]]}


SOURCES = (("MMMU-Pro", "mmmu-pro/*.jsonl", mmmu_pro), ("MathVista", "mathvista/output_*.json", mathvista),
           ("MATH-V", "mathv/*.jsonl", mathv), ("MMMU (judge)", "mmmu/*_responses.json", mmmu))


def grade_rows(rows: list[dict], use_reported: bool) -> list[tuple[dict, Any]]:
    out = []
    for r in rows:
        fa = r["reported"] if use_reported else None
        st = trace_stats(r["response"], (), ground_truth=r["ground_truth"], final_answer=fa,
                         question=r["question"], metadata=r["metadata"], benchmark=r["benchmark"])
        out.append((r, st))
    return out


def real_files(real: Path, show: int) -> None:
    if not real.exists():
        print(f"real files: skipped ({real} not found; they are fetched for development, never committed)")
        return
    print(f"real outputs of other projects ({real}):")
    print(f"  {'source':<12} {'file':<46} {'n':>5}  {'agree rep.':>10} {'agree trace':>11}  "
          f"{'acc src':>7} {'acc wb':>7} {'gap':>5}  {'trunc':>5}")
    totals = {"rep": [0, 0], "trace": [0, 0]}
    per_source: dict[str, list[int]] = {}   # name -> [files, n, agree reported, n reported, agree trace]
    short = [0, 0]
    gaps = []
    for name, pattern, reader in SOURCES:
        for path in sorted(real.glob(pattern)):
            if path.name == "test_data.jsonl":
                continue
            rows = [r for r in reader(path) if r["correct"] is not None]
            if not rows:
                continue
            has_rep = any(r["reported"] not in (None, "") for r in rows)
            graded = {False: grade_rows(rows, False)}  # trace alone
            if has_rep:
                graded[True] = grade_rows(rows, True)
            agree = {k: sum(st.extracted_correct == r["correct"] for r, st in v) / len(v) for k, v in graded.items()}
            best = graded[has_rep]
            acc_src = sum(r["correct"] for r in rows) / len(rows)
            acc_wb = sum(bool(st.extracted_correct) for _, st in best) / len(rows)
            gaps.append(abs(acc_wb - acc_src) * 100)
            for k, v in graded.items():
                key = "rep" if k else "trace"
                totals[key][0] += sum(st.extracted_correct == r["correct"] for r, st in v)
                totals[key][1] += len(v)
            ps = per_source.setdefault(name, [0, 0, 0, 0, 0])
            ps[0] += 1
            ps[1] += len(rows)
            ps[4] += sum(st.extracted_correct == r["correct"] for r, st in graded[False])
            if has_rep:
                ps[2] += sum(st.extracted_correct == r["correct"] for r, st in graded[True])
                ps[3] += len(rows)
            for r, st in graded[False]:
                if r["response"].strip() and is_short(r["response"]):
                    short[0] += st.truncated
                    short[1] += 1
            rep = f"{agree[True]:10.1%}" if has_rep else f"{'-':>10}"
            print(f"  {name:<12} {path.name[:46]:<46} {len(rows):5d}  {rep} {agree[False]:11.1%}  "
                  f"{acc_src:7.1%} {acc_wb:7.1%} {abs(acc_wb - acc_src) * 100:5.1f}  "
                  f"{sum(st.truncated for _, st in graded[False]):5d}")
            if show:
                bad = [(r, st) for r, st in best if st.extracted_correct != r["correct"]][:show]
                for r, st in bad:
                    print(f"      src={r['correct']} wb={st.extracted_correct} gt={str(r['ground_truth'])[:30]!r} "
                          f"rep={str(r['reported'])[:40]!r} read={st.extracted_answer!r} via {st.answer_source} "
                          f"| {r['response'][-160:]!r}")
    for name, (files, n, rep_ok, n_rep, trace_ok) in per_source.items():
        rep = f"{rep_ok / n_rep:.2%}" if n_rep else "-"
        print(f"  {name:<12} {files:3d} files {n:7,d} samples: agreement with the reported answer {rep}, "
              f"from the trace alone {trace_ok / n:.2%}")
    for key, label in (("rep", "with the reported answer"), ("trace", "from the trace alone")):
        n_ok, n = totals[key]
        if n:
            print(f"  agreement {label}: {n_ok / n:.2%} of {n:,}")
    if gaps:
        print(f"  accuracy without the source's grades vs the source's: largest gap {max(gaps):.1f} points, "
              f"mean {sum(gaps) / len(gaps):.2f} over {len(gaps)} files (target <= 2)")
    if short[1]:
        print(f"  short complete answers marked truncated: {short[0]} of {short[1]:,} ({short[0] / short[1]:.2%}; "
              f"target <= 1%)")


def dev_set(path: Path) -> None:
    if not path.exists():
        print(f"dev set: skipped ({path} not found; the real traces live in ../shared)")
        return
    import duckdb
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "dev.duckdb"
        wb = [sys.executable, "-m", "workbench.cli"]
        t = time.perf_counter()
        subprocess.run([*wb, "import", str(path), "--db", str(db)], check=True, capture_output=True)
        subprocess.run([*wb, "analyze", "--db", str(db)], check=True, capture_output=True)
        took = time.perf_counter() - t
        con = duckdb.connect(str(db), read_only=True)
        rows = con.execute("""
            SELECT s.benchmark, count(*) AS n,
                   count(*) FILTER (t.extracted_correct IS NOT DISTINCT FROM s.correct) AS agree,
                   count(*) FILTER (NOT t.truncated) AS complete,
                   count(*) FILTER (NOT t.truncated AND t.conclusion_correct IS NOT DISTINCT FROM s.correct) AS c_agree,
                   count(*) FILTER (t.truncation = 'loop') AS loops, count(*) FILTER (t.truncation = 'cut') AS cut,
                   count(*) FILTER (t.conclusion IS NULL AND NOT t.truncated) AS no_conclusion
            FROM samples s JOIN trace_stats t USING (run_id, sample_id)
            WHERE s.correct IS NOT NULL GROUP BY ALL ORDER BY n DESC""").fetchall()
        flags = con.execute("SELECT severity, count(*) FROM flags WHERE detector = 'answer_mismatch' "
                            "GROUP BY ALL ORDER BY 1").fetchall()
        con.close()
    print(f"dev set ({path.name}, import + analyze {took:.1f} s):")
    tot = [0] * 4
    for bench, n, agree, complete, c_agree, loops, cut, _none in rows:
        print(f"  {bench:<28} {n:6,d} graded: extracted_correct agrees {agree / n:7.2%}; conclusion agrees on "
              f"{complete:,} complete traces {c_agree / max(complete, 1):7.2%}; truncated {loops} loop + {cut} cut")
        tot = [tot[0] + n, tot[1] + agree, tot[2] + complete, tot[3] + c_agree]
    print(f"  all: extracted_correct agrees with the set's `correct` on {tot[1] / tot[0]:.2%} of {tot[0]:,} "
          f"(target >= 98%); the trace's own conclusion on complete traces: "
          f"{tot[3] / max(tot[2], 1):.2%} of {tot[2]:,}")
    print(f"  answer_mismatch findings: {', '.join(f'{s} {c}' for s, c in flags) or 'none'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dev", type=Path, default=DEV)
    ap.add_argument("--real", type=Path, default=REAL)
    ap.add_argument("--no-dev", action="store_true", help="skip the dev set (its import + analyze takes ~30 s)")
    ap.add_argument("--show", type=int, default=0, help="print N disagreements per file")
    args = ap.parse_args()
    if not args.no_dev:
        dev_set(args.dev)
    real_files(args.real, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
