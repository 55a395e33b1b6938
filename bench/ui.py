"""UI timings in a real browser (Playwright + Debian Chromium), against the real server.

    .venv/bin/python bench/ui.py

1. first page (overview) render on the demo store, from navigation to the charts being drawn;
2. the trace view of a ~25,000-character trace, from opening its link to the steps being drawn;
3. the overview over the whole dev set (imported + analysed), cold and once cached (reload).
Targets (issue 4): < 2 s, < 1 s, < 2 s cached. Each figure is the median of 3 runs.

    .venv/bin/python bench/ui.py --scale 10 [--stores DIR]

With --scale N: the Overview, Traces (first page, and page 100 sorted by length) and Failures pages
on the dev set (1x) and on N times it (ids made unique; imported and analysed, or taken from DIR as
bench/scale.py --keep DIR leaves them: store_1x.duckdb, store_<N>x.duckdb), each in a freshly started
server: first load (cold: the queries run) and the median of 3 reloads (cached). Target (issue 18): at
10x, no page takes more than 2x its 1x time.

For reference it also times a bare Streamlit page (a title and one two-row st.dataframe, no store,
no sidebar, no charts) the same way as the first page: what Streamlit's own frontend costs in a
fresh browser context on this machine, below which no page of the app can render.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"
WB = [sys.executable, "-m", "workbench.cli"]


def timed(page, url: str, ready: str) -> float:
    t = time.perf_counter()
    page.goto(url)
    page.locator(ready).first.wait_for(timeout=120000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120000)
    return time.perf_counter() - t


def long_trace_file(tmp: Path) -> Path:
    words = ("Let me reconsider the relation between the quantities shown in the figure, step by step. " * 14)
    paras = [f"Step {i}: {words}" for i in range(20)]
    text = "\n\n".join(paras)[:25000]
    path = tmp / "long.jsonl"
    path.write_text(json.dumps({"id": "long-25k", "question": "A long trace for timing.", "response": text}) + "\n")
    return path


BARE_PAGE = """
import pandas as pd
import streamlit as st

st.set_page_config(layout="wide")
st.title("Overview")
st.dataframe(pd.DataFrame({"name": ["demo", "long"], "samples": [15, 1]}), hide_index=True)
"""


def bare_page_times(browser, tmp: Path, runs: int = 3) -> list[float]:
    """Fresh-context load of BARE_PAGE served by plain `streamlit run` (see the module docstring)."""
    from workbench.ui.serve import running_server
    script = tmp / "bare.py"
    script.write_text(BARE_PAGE)
    argv = [sys.executable, "-m", "streamlit", "run", str(script), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal"]
    with running_server(argv, cwd=tmp, timeout=60, what="the bare Streamlit page") as url:
        times = []
        for i in range(runs + 1):  # the first load warms the server (imports), like the app's first run
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t = timed(page, url + "/", "[data-testid='stDataFrame']")
            page.close()
            if i:
                times.append(t)
        return times


SCALE_PAGES = {   # name -> (path, what shows the page is drawn)
    "overview": ("/", ".js-plotly-plot"),
    "traces": ("/traces", "[data-testid='stDataFrame']"),
    "traces p100 by length": ("/traces?sort=length&desc=true&page=100", "[data-testid='stDataFrame']"),
    "failures": ("/failures", "[data-testid='stDataFrame']"),
}


def scale_store(label: str, n: int, stores: Path | None, tmp: Path) -> Path:
    """The analysed store of n x the dev set (from `stores` when bench/scale.py --keep left it there)."""
    if stores is not None and (stores / f"store_{label}.duckdb").exists():
        return stores / f"store_{label}.duckdb"
    sys.path.insert(0, str(ROOT / "bench"))
    from scale import write_copies
    src, db = tmp / f"dev_{label}.jsonl", tmp / f"store_{label}.duckdb"
    write_copies(DEV, src, n)
    subprocess.run([*WB, "import", str(src), "--db", str(db), "--run", "dev"], check=True, capture_output=True,
                   cwd=ROOT)
    src.unlink()
    subprocess.run([*WB, "analyze", "--db", str(db)], check=True, capture_output=True, cwd=ROOT)
    return db


def scale_times(browser, db: Path) -> dict[str, tuple[float, float]]:
    """page -> (first load s, median of 3 reloads s) in a freshly started server on `db`."""
    from workbench.ui.serve import running_app
    out = {}
    with running_app(db) as url:
        for name, (path, ready) in SCALE_PAGES.items():
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            first = timed(page, url + path, ready)
            again = statistics.median(timed(page, url + path, ready) for _ in range(3))
            page.close()
            out[name] = (first, again)
    return out


def scale_main(n: int, stores: Path | None) -> int:
    import os

    from playwright.sync_api import sync_playwright

    from workbench.ui.serve import CHROMIUM, CHROMIUM_ARGS
    if not DEV.exists():
        print(f"skipped: {DEV} not found (the real traces live in ../shared)")
        return 0
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp_s, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for label, k in (("1x", 1), (f"{n}x", n)):
            results[label] = scale_times(browser, scale_store(label, k, stores, Path(tmp_s)))
        browser.close()
    big = f"{n}x"
    print(f"| page (real server + headless Chromium) | 1x first | 1x cached | {big} first | {big} cached "
          f"| {big} / 1x (first, cached) |")
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for name in SCALE_PAGES:
        (a1, a2), (b1, b2) = results["1x"][name], results[big][name]
        worst = max(worst, b1 / a1, b2 / a2)
        print(f"| {name} | {a1:.2f} s | {a2:.2f} s | {b1:.2f} s | {b2:.2f} s | {b1 / a1:.2f}, {b2 / a2:.2f} |")
    print(f"target: {big} at most 2x the 1x time: {'met' if worst <= 2 else 'NOT met'} (worst ratio {worst:.2f})")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def main() -> int:
    if "--scale" in sys.argv:
        import argparse
        ap = argparse.ArgumentParser()
        ap.add_argument("--scale", type=int, default=10)
        ap.add_argument("--stores", type=Path, default=None)
        args = ap.parse_args()
        return scale_main(args.scale, args.stores)
    from playwright.sync_api import sync_playwright

    from workbench.ui.serve import CHROMIUM, CHROMIUM_ARGS, running_app
    results = {}
    with tempfile.TemporaryDirectory() as tmp_s, sync_playwright() as pw:
        tmp = Path(tmp_s)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        demo = tmp / "demo.duckdb"
        subprocess.run([*WB, "demo", "--db", str(demo)], check=True, capture_output=True, cwd=ROOT)
        subprocess.run([*WB, "import", str(long_trace_file(tmp)), "--db", str(demo), "--run", "long"], check=True,
                       capture_output=True, cwd=ROOT)
        subprocess.run([*WB, "analyze", "--db", str(demo)], check=True, capture_output=True, cwd=ROOT)
        with running_app(demo) as url:
            content, charts, trace, select = [], [], [], []
            for _ in range(3):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                content.append(timed(page, url + "/", "[data-testid='stDataFrame']"))
                charts.append(timed(page, url + "/", ".js-plotly-plot"))
                trace.append(timed(page, url + "/trace?run=long&sample=long-25k", "#step-19"))
                # in-app selection (no page load): pick step 5 in the step selector of the 25k trace
                box = page.locator("[data-testid='stSelectbox']").filter(has_text="Selected step").locator("input")
                box.click()
                box.fill("step 5")
                t = time.perf_counter()
                page.keyboard.press("Enter")
                page.locator("#step-5.wb-selected").wait_for(timeout=60000)
                select.append(time.perf_counter() - t)
                page.close()
            results["first page, content (demo)"] = (statistics.median(content), 2.0)
            results["first page, charts drawn (demo)"] = (statistics.median(charts), None)
            results["25k-char trace: select a step"] = (statistics.median(select), 1.0)
            results["25k-char trace: open by deep link"] = (statistics.median(trace), None)
        results["(reference) bare Streamlit page"] = (statistics.median(bare_page_times(browser, tmp)), None)
        if DEV.exists():
            dev = tmp / "dev.duckdb"
            subprocess.run([*WB, "import", str(DEV), "--db", str(dev)], check=True, capture_output=True, cwd=ROOT)
            subprocess.run([*WB, "analyze", "--db", str(dev)], check=True, capture_output=True, cwd=ROOT)
            with running_app(dev) as url:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                cold = timed(page, url + "/", ".js-plotly-plot")
                cached = statistics.median(timed(page, url + "/", ".js-plotly-plot") for _ in range(3))
                results["overview, dev set, first load"] = (cold, None)
                results["overview, dev set, cached"] = (cached, 2.0)
        else:
            print(f"(dev-set overview skipped: {DEV} not found)")
        browser.close()
    for name, (sec, target) in results.items():
        verdict = "" if target is None else f"  target < {target:g} s: {'met' if sec < target else 'NOT met'}"
        print(f"{name:34} {sec:6.2f} s{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
