"""The app and the analysis import no torch/transformers (the light install works)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCKER = r'''
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "accelerate", "vllm"):
            raise ImportError(f"blocked heavy import: {name}")
sys.meta_path.insert(0, Block())
import importlib, pkgutil
import workbench.analysis as analysis
mods = ["workbench.cli", "workbench.ui.data", "workbench.ui.run_panel", "workbench.models.jobs",
        "workbench.models.runner", "workbench.models.backends", "workbench.models.backends.base",
        "workbench.models.backends.openai_backend", "workbench.models.backends.vllm_backend",
        "workbench.models.planner", "workbench.models.inputs", "workbench.commands.run",
        "workbench.commands.plan", "workbench.commands.tiny_model", "workbench.commands.probe",
        "workbench.probe.run", "workbench.probe.maps", "workbench.probe.grid", "workbench.viz.overlay",
        "workbench.viz.probe_charts", "workbench.ui.probe_panel"]
mods += [f"workbench.analysis.{m.name}" for m in pkgutil.iter_modules(analysis.__path__)]
for m in mods:
    importlib.import_module(m)
from workbench.cli import build_parser
build_parser()
assert not any(k.split(".")[0] in ("torch", "transformers") for k in sys.modules)
print("ok", len(mods))
'''


def test_app_and_analysis_modules_import_without_torch() -> None:
    out = subprocess.run([sys.executable, "-c", BLOCKER], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("ok")


def test_run_page_imports_without_torch(tmp_path: Path) -> None:
    code = BLOCKER.split("import importlib, pkgutil")[0] + (
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('pages/run.py', default_timeout=60).run()\n"
        "assert not at.exception, at.exception\n"
        "assert not any(k.split('.')[0] == 'torch' for k in sys.modules)\nprint('ok')\n")
    import os
    env = {**os.environ, "WORKBENCH_DB": str(tmp_path / "light.duckdb")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
