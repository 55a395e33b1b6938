"""Ray is an optional extra: without it the CLI, the local engine and the export work, and
`--engine ray` says which extra to install (exit 1, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WITHOUT_RAY = r'''
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ray":
            raise ImportError("No module named 'ray'")
sys.meta_path.insert(0, Block())
import workbench.analysis.ray_engine
from workbench.cli import main
rc = main(sys.argv[1:])
assert not any(k.split(".")[0] == "ray" for k in sys.modules), "ray was imported"
sys.exit(rc)
'''


def workbench_without_ray(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_RAY, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_engine_ray_without_ray_names_the_extra_and_local_still_works(tmp_path: Path) -> None:
    from workbench.demo import DEMO_FILE
    from workbench.ingest import import_paths
    db = tmp_path / "store.duckdb"
    import_paths([DEMO_FILE], db, run="demo", progress=False)
    out = workbench_without_ray("analyze", "--db", str(db), "--engine", "ray")
    assert out.returncode == 1, out.stderr[-2000:]
    assert "pip install -e '.[ray]'" in out.stderr and "Traceback" not in out.stderr
    out = workbench_without_ray("analyze", "--db", str(db), "--workers", "1")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "steps: 15" in out.stdout
    out = workbench_without_ray("export-parquet", str(tmp_path / "lake"), "--db", str(db))
    assert out.returncode == 0, out.stderr[-2000:]
