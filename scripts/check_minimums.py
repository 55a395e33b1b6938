"""Check that pyproject.toml's minimum versions are true: install every dependency pinned at its
declared lower bound in a fresh virtualenv, install the project without deps, then run the tests.

    .venv/bin/python scripts/check_minimums.py                      # the whole check (~10-20 min)
    .venv/bin/python scripts/check_minimums.py --skip-tests         # install + import every module
    .venv/bin/python scripts/check_minimums.py --only streamlit     # streamlit at its minimum, the rest free
    .venv/bin/python scripts/check_minimums.py --pin duckdb==1.4.0  # try another version (bisecting)
    .venv/bin/python scripts/check_minimums.py --venv /tmp/minvenv  # reuse a venv between re-checks

Which dependencies: the core list and every extra except the GPU-only ones (`vllm`, and any extra
whose name mentions gpu/cuda). torch is never pinned at its bound: it is installed as
TORCH_PIN, the CPU wheel on this machine's disk (any other version could pull a multi-GB CUDA
build), so torch's own bound is reported as not checked. Exit status 0 when everything passed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

try:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.version import Version
except ImportError:  # a bare interpreter: pip carries its own copy
    from pip._vendor.packaging.markers import default_environment  # type: ignore[no-redef]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.version import Version  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
TORCH_PIN = "torch==2.13.0"
SKIP_EXTRAS = {"vllm"}
GPU_WORDS = ("gpu", "cuda")


@dataclass
class Dep:
    """One declared dependency: `minimum` is the version it is installed at (None: no lower bound)."""

    name: str
    extras: str          # "[serving]" or ""
    spec: str            # the declared specifier, e.g. ">=1.56"
    group: str           # "core" or the extra's name
    minimum: str | None
    pinned: bool = True  # False: installed within its declared range, not at the bound

    def install_arg(self) -> str:
        if self.name == "torch":
            return TORCH_PIN
        if self.pinned and self.minimum:
            return f"{self.name}{self.extras}=={self.minimum}"
        return f"{self.name}{self.extras}{self.spec}"


@dataclass
class Outcome:
    steps: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, step: str, ok: bool, detail: str = "") -> bool:
        self.steps.append((step, ok, detail))
        print(f"[{'ok' if ok else 'FAILED'}] {step}{': ' + detail if detail else ''}", flush=True)
        return ok


def lower_bound(req: Requirement) -> str | None:
    """The version a requirement's specifier admits as its minimum (>=, ==, ~=), or None."""
    for s in req.specifier:
        if s.operator in (">=", "==", "~=", "==="):
            return s.version.removesuffix(".*")
    return None


def skipped_extra(name: str) -> bool:
    return name in SKIP_EXTRAS or any(w in name.lower() for w in GPU_WORDS)


def read_deps(pyproject: Path) -> tuple[str, list[Dep], list[str]]:
    """requires-python, the dependencies to check, and the names of the extras left out."""
    project = tomllib.loads(pyproject.read_text())["project"]
    groups = {"core": project.get("dependencies", [])}
    skipped = []
    for extra, reqs in project.get("optional-dependencies", {}).items():
        if skipped_extra(extra):
            skipped.append(extra)
        else:
            groups[extra] = reqs
    env = default_environment()
    deps: dict[str, Dep] = {}
    for group, reqs in groups.items():
        for text in reqs:
            req = Requirement(text)
            if req.name == project["name"]:  # a meta-extra such as "qvq-workbench[models]"
                continue
            if req.marker and not req.marker.evaluate({**env, "extra": group}):
                continue
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            dep = Dep(req.name, extras, str(req.specifier), group, lower_bound(req))
            key = req.name.lower().replace("_", "-")
            old = deps.get(key)
            if old and old.minimum and (not dep.minimum or Version(old.minimum) > Version(dep.minimum)):
                continue  # listed twice (core and an extra): the higher bound is the one that holds
            deps[key] = dep
    return project.get("requires-python", ""), list(deps.values()), skipped


def run(cmd: list[str], log: Path, env: dict[str, str] | None = None, echo: bool = False) -> tuple[bool, str]:
    """Run a command, appending its output to `log`; returns (ok, output)."""
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    text = out.stdout + out.stderr
    with log.open("a") as fh:
        fh.write(text)
    if echo:
        print(text, end="", flush=True)
    return out.returncode == 0, text


def tail(text: str, lines: int = 25) -> str:
    """The last lines of a command's output, without pip's noise about this machine's extra indexes."""
    kept = [line for line in text.strip().splitlines() if "is ignored: it is neither a file" not in line]
    return "\n".join("    " + line for line in kept[-lines:])


IMPORT_ALL = r"""
import importlib, pkgutil, sys, workbench
bad = []
for m in pkgutil.walk_packages(workbench.__path__, "workbench."):
    try:
        importlib.import_module(m.name)
    except Exception as e:
        bad.append(f"{m.name}: {type(e).__name__}: {e}")
print("\n".join(bad) if bad else "imported every workbench module")
sys.exit(1 if bad else 0)
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", action="append", default=[], metavar="PKG",
                   help="pin only these packages at their minimum; the others install within their range")
    p.add_argument("--pin", action="append", default=[], metavar="PKG==VER",
                   help="install PKG at VER instead of its declared minimum (for bisecting)")
    p.add_argument("--skip-tests", action="store_true", help="install and import only, no test suite")
    p.add_argument("--no-browser", action="store_true", help="leave out the browser tests (-m 'not browser')")
    p.add_argument("--pytest-args", default="", help="extra pytest arguments, e.g. 'tests/unit -x'")
    p.add_argument("--venv", type=Path, help="use (and keep) this virtualenv instead of a temporary one; "
                   "an existing one is reused, so a re-check only reinstalls what changed")
    p.add_argument("--python", default=sys.executable, help="interpreter for the venv (default: this one)")
    return p.parse_args(argv)


def apply_choices(deps: list[Dep], only: list[str], pins: list[str]) -> None:
    norm = lambda s: s.lower().replace("_", "-")  # noqa: E731
    names = {norm(d.name) for d in deps}
    for name in only:
        if norm(name) not in names:
            sys.exit(f"--only {name}: not a dependency in pyproject.toml (have: {', '.join(sorted(names))})")
    if only:
        for d in deps:
            d.pinned = norm(d.name) in {norm(n) for n in only}
    for pin in pins:
        name, sep, version = pin.partition("==")
        match = [d for d in deps if norm(d.name) == norm(name)]
        if not sep or not match:
            sys.exit(f"--pin {pin}: expected PKG==VERSION for a dependency in pyproject.toml")
        match[0].minimum, match[0].pinned = version, True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    requires_python, deps, skipped = read_deps(ROOT / "pyproject.toml")
    apply_choices(deps, args.only, args.pin)
    outcome = Outcome()
    started = time.monotonic()

    unbounded = [d.name for d in deps if d.minimum is None and d.name != "torch"]
    outcome.add("every dependency declares a minimum", not unbounded,
                f"no lower bound: {', '.join(unbounded)}" if unbounded else f"{len(deps)} dependencies")

    venv = args.venv or Path(tempfile.mkdtemp(prefix="check-minimums-"))
    log = venv.parent / f"{venv.name}.log"  # beside the venv: it outlives a removed temporary one
    py = venv / "bin" / "python"
    if not py.exists():
        ok, out = run([args.python, "-m", "venv", str(venv)], Path(os.devnull))
        if not outcome.add("create virtualenv", ok, str(venv)):
            print(tail(out))
            return 1
    log.write_text("")
    ok, version = run([str(py), "-c", "import platform; print(platform.python_version())"], log)
    pyver = version.strip()
    floor = re.search(r">=\s*([\d.]+)", requires_python)
    at_floor = bool(floor) and pyver.startswith(floor.group(1) + ".")  # type: ignore[union-attr]
    outcome.add(f"python {pyver}", True, f"requires-python {requires_python!r}"
                + ("" if at_floor else " (NOT the declared minimum: pass --python for that one)"))

    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [str(py), "-m", "pip", "install", "-q"]
    wanted = [d.install_arg() for d in deps]
    print(f"installing {len(wanted)} pins (log: {log}); first time takes a few minutes", flush=True)
    if any(d.name == "torch" for d in deps):  # first, alone: only the CPU wheel on disk may be chosen
        ok, out = run([*pip, TORCH_PIN], log, env)
        if not outcome.add(f"install {TORCH_PIN}", ok):
            print(tail(out))
            return 1
    ok, out = run(pip + wanted, log, env)
    if not outcome.add("install the minimums", ok, " ".join(wanted) if not ok else ""):
        print(tail(out, 40))
        return summary(outcome, deps, skipped, {}, started, log)
    ok, out = run([*pip, "--no-deps", "-e", "."], log, env)
    if not outcome.add("install the project (--no-deps -e .)", ok):
        print(tail(out))
        return summary(outcome, deps, skipped, {}, started, log)

    ok, out = run([str(py), "-m", "pip", "list", "--format=freeze"], log)
    installed = dict(line.split("==", 1) for line in out.splitlines() if "==" in line)
    installed = {k.lower().replace("_", "-"): v for k, v in installed.items()}
    ok, out = run([str(py), "-m", "pip", "check"], log)
    if not ok and args.pin:  # a --pin below the declared bound breaks the project's own requirement: expected
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
        ok = all(line.startswith(f"{project} ") for line in out.strip().splitlines())
    outcome.add("pip check (installed packages agree with each other)", ok, "" if ok else "\n" + tail(out))
    ok, out = run([str(py), "-c", IMPORT_ALL], log)
    outcome.add("import every workbench module", ok, "" if ok else "\n" + tail(out))
    ok, out = run([str(venv / "bin" / "workbench"), "--help"], log)
    outcome.add("workbench --help", ok, "" if ok else "\n" + tail(out))

    if not args.skip_tests:
        cmd = [str(py), "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider"]
        if args.no_browser:
            cmd += ["-m", "not browser"]
        cmd += args.pytest_args.split()
        print(f"running the tests: {' '.join(cmd[2:])}", flush=True)
        ok, out = run(cmd, log, {**env, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{env['PATH']}"})
        last = out.strip().splitlines()[-1] if out.strip() else "no output"
        outcome.add("test suite", ok, last.strip("= "))
        notes = [line for line in out.splitlines() if line.startswith(("FAILED", "ERROR", "SKIPPED"))]
        if notes:
            print("\n".join("    " + n for n in notes[:60]))
    code = summary(outcome, deps, skipped, installed, started, log)
    if not args.venv:
        if code == 0:
            shutil.rmtree(venv, ignore_errors=True)
        else:
            print(f"kept the virtualenv for a look: {venv}")
    return code


def summary(outcome: Outcome, deps: list[Dep], skipped: list[str], installed: dict[str, str],
            started: float, log: Path) -> int:
    print("\n== minimum versions ==")
    print(f"{'package':<28} {'group':<8} {'declared':<14} {'installed':<14} note")
    for d in deps:
        have = installed.get(d.name.lower().replace("_", "-"), "-")
        if d.name == "torch":
            note = f"bound not checked: {TORCH_PIN} is the only CPU wheel here"
        elif not d.pinned:
            note = "free (not pinned: --only)"
        elif have == "-":
            note = ""
        elif d.minimum and Version(have) == Version(d.minimum):
            note = "at the minimum"
        else:
            note = f"NOT at the minimum {d.minimum}" if d.minimum else "no minimum declared"
        print(f"{d.name + d.extras:<28} {d.group:<8} {d.spec:<14} {have:<14} {note}")
    if skipped:
        print(f"extras left out (GPU-only): {', '.join(skipped)}")
    failed = [s for s, ok, _ in outcome.steps if not ok]
    minutes = (time.monotonic() - started) / 60
    print(f"\n{'PASSED' if not failed else 'FAILED: ' + '; '.join(failed)} ({minutes:.1f} min; log: {log})")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
