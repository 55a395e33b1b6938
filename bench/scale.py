"""Scale: the dev set repeated (ids made unique) or a million traces of its shapes, imported, analysed
and queried the way the pages query it.

    .venv/bin/python bench/scale.py                      # 1x and 10x the dev set
    .venv/bin/python bench/scale.py --million            # 1x, 10x and 1,000,000 traces (~6.3 GB JSONL + store)
    .venv/bin/python bench/scale.py --sizes 1,4 --no-analyze
    .venv/bin/python bench/scale.py --keep /tmp/stores   # keep the stores (bench/ui.py, report.py, console.py)

For each size prints: traces, JSONL size, `workbench import` wall time and peak RSS (target: under
1.5 GB whatever the size: the import streams batches), `workbench analyze` wall time, MB/s (JSONL MB
over the wall time, both cores) and peak RSS, and the page queries' times: the SQL each page runs
on a load, measured in a fresh process on the analysed store (the median of 3 after a first, cold
run, which is printed too), and that process's peak RSS. Browser times of the same pages:
bench/ui.py --scale 10. Every command is the CLI users run, in its own process.

The million traces are the dev set's records cycled (record k of copy c gets id `<id>#copy<c>`),
cut at exactly 1,000,000: the same text shapes, lengths, benchmarks and subsets at 87x.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"
MILLION = 1_000_000
_MARK = "\x00ID\x00"


def write_copies(src: Path, dst: Path, n: int | None = None, *, total: int | None = None) -> int:
    """`n` copies of `src` (or as many records as `total`, cycling) with ids made unique
    (`<id>#copy<k>` for copy k >= 1). Returns the record count. Each source line is parsed once:
    copies are its text with the id spliced in, so a million lines take a minute, not ten."""
    parts: list[tuple[bytes, str, bytes, bytes]] = []
    with src.open("rb") as f:
        for ln in f:
            if not ln.strip():
                continue
            rec = json.loads(ln)
            sid = str(rec["id"])
            rec["id"] = _MARK
            head, tail = json.dumps(rec, ensure_ascii=False).encode("utf-8").split(json.dumps(_MARK).encode())
            parts.append((ln if ln.endswith(b"\n") else ln + b"\n", sid, head, tail + b"\n"))
    limit = total if total is not None else len(parts) * (n or 1)
    count = 0
    with dst.open("wb") as out:
        k = 0
        while count < limit:
            for line, sid, head, tail in parts:
                if count >= limit:
                    break
                out.write(line if k == 0 else head + json.dumps(f"{sid}#copy{k}", ensure_ascii=False).encode() + tail)
                count += 1
            k += 1
    return count


def run_measured(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS GB) of `python -m workbench.cli argv` (RSS from wait4, this child only)."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"workbench {argv[0]} failed: {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024 / 1024


def copy_analysis(base: Path, store: Path) -> float:
    """Fill `store` (copies of the dev set, imported, not analysed) with the analysis of `base` (the dev
    set, analysed), copy for copy: the analysis is a pure function of each trace's text, and copy k of
    a trace has the same text under `<id>#copy<k>`. Seconds taken. For the million, whose real
    analysis would take half an hour on this machine; analyse MB/s is measured at 1x and 10x."""
    import duckdb
    t = time.perf_counter()
    con = duckdb.connect(str(store))
    con.execute("SET memory_limit = '4GB'")
    con.execute(f"ATTACH '{base}' AS base (READ_ONLY)")
    # copy id -> base id (the suffix `#copy<k>` off), with the copy's content hash
    con.execute("""CREATE TEMP TABLE m AS SELECT run_id, sample_id, content_hash,
                          regexp_replace(sample_id, '#copy[0-9]+$', '') AS base_id FROM samples""")
    con.execute("BEGIN")
    for table in ("steps", "trace_stats", "flags"):
        con.execute(f"""INSERT INTO {table} SELECT b.* REPLACE (m.run_id AS run_id, m.sample_id AS sample_id)
                        FROM base.{table} b JOIN m ON m.base_id = b.sample_id""")
    con.execute("""INSERT INTO analysis_status SELECT b.* REPLACE (m.run_id AS run_id, m.sample_id AS sample_id,
                          m.content_hash AS content_hash)
                   FROM base.analysis_status b JOIN m ON m.base_id = b.sample_id""")
    con.execute("COMMIT")
    con.close()
    return time.perf_counter() - t


def refresh_summaries(store: Path) -> float:
    """Seconds to recompute every run's summaries (what the first reader after a write does)."""
    from workbench.store import connect, summary
    t = time.perf_counter()
    with connect(store) as con:
        summary.ensure_fresh(con)
    return time.perf_counter() - t


# ---- page queries (run in a child: `scale.py --pages STORE`)

def page_queries(db: Path) -> dict[str, tuple[float, float]]:
    """name -> (first run s, median of 3 more s) of the SQL each page runs on a load."""
    from workbench.analysis import registry
    from workbench.store import connect, summary
    from workbench.store import queries as q
    from workbench.store.findings import FLAGS, failure_totals_sql, failures_sql
    out: dict[str, tuple[float, float]] = {}
    from workbench.config import setting
    with connect(db) as con:
        con.execute(f"SET memory_limit = '{setting('app_memory_limit')}'")   # as the app's page queries
        runs = [r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()]
        scope = q.scope_params(runs, [], [])
        n = con.execute("SELECT count(*) FROM samples").fetchone()[0]
        mid = con.execute("SELECT run_id, sample_id FROM samples ORDER BY sample_id LIMIT 1 OFFSET ?",
                          [n // 2]).fetchone()
        filters = [*scope, [], [], [], [], [], []]

        def overview() -> None:
            summary.ensure_fresh(con)
            con.execute(summary.runs_summary_sql()).df()
            con.execute(q.FILTER_VALUES, [runs]).df()
            con.execute(summary.FLAG_RATE_BY_SUBSET, summary.detector_params(scope)).df()
            con.execute(summary.ACCURACY_BY_FLAG, summary.detector_params(scope)).df()
            con.execute(summary.LENGTH_BINS, scope).df()
            con.execute(summary.ONSETS, scope).df()

        def traces(**kw) -> None:
            page = kw.pop("page", 1)
            sql, params = q.sample_list(q.SampleFilter(runs=runs, **kw), limit=50, offset=(page - 1) * 50)
            con.execute(sql, params).df()
            con.execute(*q.sample_count(q.SampleFilter(runs=runs, **kw))).df()
            con.execute(q.SAMPLE_IDS_OF_RUNS, [runs]).df()

        def failures() -> None:
            con.execute(failure_totals_sql(q.SCOPE_SQL), filters).df()
            con.execute(failures_sql(q.SCOPE_SQL), [*filters, 200, 0]).df()
            con.execute(summary.FINDING_COUNTS, filters[:-2]).df()

        def trace_view() -> None:
            con.execute(q.SAMPLE, list(mid)).df()
            con.execute(q.STEPS, list(mid)).df()
            con.execute(FLAGS, list(mid)).df()
            sql, params = q.list_neighbours(q.SampleFilter(runs=runs), *mid)
            con.execute(sql, params).df()

        def refresh() -> None:
            summary.mark_stale(con, runs)
            summary.ensure_fresh(con)

        loop = next((s.name for s in registry.specs() if s.collapse), registry.names()[0])
        cases = {
            "overview (summaries)": overview,
            "traces page 1": lambda: traces(),
            "traces page 100, by length desc": lambda: traces(sort="length", descending=True, page=100),
            f"traces flagged by {loop}": lambda: traces(detectors=[loop]),
            "traces text search": lambda: traces(text="cannot see"),
            "failures page 1": failures,
            "trace view + prev/next": trace_view,
            "summary refresh (all runs)": refresh,
        }
        for name, fn in cases.items():
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            times = []
            for _ in range(4 if name != "summary refresh (all runs)" else 2):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            out[name] = (times[0], statistics.median(times[1:]))
            grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
            if grew > 100 * 1024:
                print(f"  {name}: peak RSS +{grew / 1024:.0f} MB", file=sys.stderr)
    return out


def measure_pages(db: Path) -> tuple[dict[str, tuple[float, float]], float]:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--pages", str(db)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"page queries failed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
    for line in (proc.stderr.read().decode() if proc.stderr else "").splitlines():
        if "peak RSS +" in line:
            print(line)   # which page query grew the process's peak memory
    return {k: tuple(v) for k, v in json.loads(out.strip().splitlines()[-1]).items()}, usage.ru_maxrss / 1024 / 1024


def _order(p: Path) -> float:
    tag = p.name.removeprefix("store_").removesuffix(".duckdb")
    return {"1M": MILLION}.get(tag, float(tag[:-1]) * (1000 if tag.endswith("k") else 11_539))


def print_pages(pages: dict[str, dict], peaks: dict[str, float]) -> None:
    labels = list(pages)
    print("| page query (first / median of 3, s) | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name in next(iter(pages.values())):
        print(f"| {name} | " + " | ".join(f"{pages[lb][name][0]:.2f} / {pages[lb][name][1]:.2f}" for lb in labels)
              + " |")
    print("| page-query process peak RSS GB | " + " | ".join(f"{peaks[lb]:.2f}" for lb in labels) + " |")


def pages_of(folder: Path) -> int:
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    pages, peaks = {}, {}
    for store in sorted(folder.glob("store_*.duckdb"), key=_order):
        label = store.name.removeprefix("store_").removesuffix(".duckdb")
        pages[label], peaks[label] = measure_pages(store)
    print_pages(pages, peaks)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,10", help="comma-separated multiples of the dev set")
    ap.add_argument("--million", action="store_true", help="also 1,000,000 traces of the dev set's shapes")
    ap.add_argument("--source", type=Path, default=DEFAULT)
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the generated files (default: system tmp)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the stores here (store_x<N>.duckdb)")
    ap.add_argument("--no-analyze", action="store_true", help="import only (and page queries on unanalysed stores)")
    ap.add_argument("--copy-analysis", action="store_true",
                    help="the million: copy the 1x store's analysis to the copies instead of analysing them "
                         "(needs 1 in --sizes; analyse time at 1M is then not measured)")
    ap.add_argument("--million-size", type=int, default=MILLION,
                    help="with --million: how many traces (default 1,000,000; less when disk or time is short)")
    ap.add_argument("--pages-of", type=Path, default=None,
                    help="only the page queries, on the stores a --keep run left in this folder")
    ap.add_argument("--pages", type=Path, default=None, help=argparse.SUPPRESS)   # child: page queries of a store
    args = ap.parse_args()
    if args.pages:
        print(json.dumps(page_queries(args.pages)))
        return 0
    if args.pages_of:
        return pages_of(args.pages_of)
    if not args.source.exists():
        print(f"skipped: {args.source} not found (the real traces live in ../shared)")
        return 0
    sizes: list[tuple[str, int | None, int | None]] = [(f"{int(s)}x", int(s), None)
                                                       for s in args.sizes.split(",") if s.strip()]
    if args.million:
        size = args.million_size
        sizes.append(("1M" if size == MILLION else f"{size // 1000}k", None, size))
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    rows, pages = [], {}
    worst = 0.0
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for label, n, total in sizes:
            path = Path(tmp) / f"dev_{label}.jsonl"
            t = time.perf_counter()
            count = write_copies(args.source, path, n, total=total)
            gen = time.perf_counter() - t
            mb = path.stat().st_size / 1e6
            store = (args.keep or Path(tmp)) / f"store_{label}.duckdb"
            store.parent.mkdir(parents=True, exist_ok=True)
            for p in store.parent.glob(store.name + "*"):
                p.unlink()
            imp, imp_peak = run_measured(["import", str(path), "--db", str(store), "--run", "dev"])
            worst = max(worst, imp_peak)
            path.unlink()
            ana, ana_peak = (float("nan"), float("nan"))
            if total is not None and args.copy_analysis:
                base = store.parent / "store_1x.duckdb"
                if not base.exists():
                    raise SystemExit("--copy-analysis needs the 1x store: add 1 to --sizes and use --keep DIR")
                print(f"{label}: analysis copied from the 1x store in {copy_analysis(base, store):.0f} s "
                      "(not analysed; analyse MB/s not measured at this size); summaries recomputed in "
                      f"{refresh_summaries(store):.1f} s", flush=True)
            elif not args.no_analyze:
                ana, ana_peak = run_measured(["analyze", "--db", str(store)])
            pages[label], page_peak = measure_pages(store)
            size_gb = sum(p.stat().st_size for p in store.parent.glob(store.name + "*")) / 1e9
            rows.append((label, count, mb, gen, imp, imp_peak, ana, mb / ana if ana == ana else float("nan"), ana_peak,
                         page_peak, size_gb))
            print(f"{label}: {count:,} traces, {mb:,.0f} MB JSONL (written in {gen:.0f} s), import {imp:.1f} s "
                  f"peak {imp_peak:.2f} GB, analyse {ana:.1f} s peak {ana_peak:.2f} GB, store {size_gb:.1f} GB, "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
            if not args.keep:
                for p in store.parent.glob(store.name + "*"):
                    p.unlink()
    print()
    print("| size | traces | JSONL MB | import s | import peak GB | analyse s | analyse MB/s | analyse peak GB "
          "| store GB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, count, mb, _gen, imp, ip, ana, rate, ap_, _pp, gb in rows:
        print(f"| {label} | {count:,} | {mb:,.0f} | {imp:.1f} | {ip:.2f} | {ana:.1f} | {rate:.1f} | {ap_:.2f} "
              f"| {gb:.1f} |")
    print()
    print_pages(pages, {r[0]: r[9] for r in rows})
    print(f"\nimport target: peak RSS under 1.5 GB at every size: {'met' if worst < 1.5 else 'NOT met'} "
          f"(worst {worst:.2f} GB)")
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
