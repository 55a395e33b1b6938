"""UI timings in a real browser (Playwright + Debian Chromium), against the real server.

    .venv/bin/python bench/ui.py

1. first page (overview) render on the demo store, from navigation to the charts being drawn;
2. the trace view of a ~25,000-character trace, from opening its link to the steps being drawn;
3. the overview over the whole dev set (imported + analysed), cold and once cached (reload).
Targets (issue 4): < 2 s, < 1 s, < 2 s cached. Each figure is the median of 3 runs.

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


def main() -> int:
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
