#!/usr/bin/env bash
# One-step set-up on a fresh Debian machine (Python 3.11, no GPU): apt packages, a virtualenv in
# .venv with the project and all extras, and Debian's Chromium for the browser tests.
# Idempotent: a stamp file skips the pip step when pyproject.toml has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
"$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# a Chinese font, so the headless Chromium of the browser tests and screenshots draws mixed-in Chinese
# (language mixing is what users look at) instead of empty boxes; the app itself never loads fonts
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || need_apt+=(fonts-wqy-microhei)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing apt packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.workbench-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into .venv (first time takes about a minute)"
  .venv/bin/python -m pip install -q --upgrade pip
  # The CPU build of torch; a bare 'torch' could pull a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[models,ray,test]"
  echo "$want" > "$stamp"
fi

# A DuckDB 1.x beside the project's DuckDB 2 (tests check that stores open in the 1.x releases
# users have: tests/unit/test_store_compat.py). Its own tiny venv, installed once.
if [ ! -x .venv/duckdb1/bin/python ] || ! .venv/duckdb1/bin/python -c 'import duckdb' >/dev/null 2>&1; then
  "$PY" -m venv .venv/duckdb1
  .venv/duckdb1/bin/python -m pip install -q "duckdb>=1.5,<2"
fi

