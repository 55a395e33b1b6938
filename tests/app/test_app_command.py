"""`workbench app` (issue 16 item 8): a --db that does not exist is an error (no demo built into a typo),
and the app process is the server (killing it, even with SIGKILL, frees the port)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from workbench.config import PROJECT_ROOT


def test_missing_db_is_an_error_and_creates_nothing(tmp_path):
    typo = tmp_path / "no-such-dir" / "stroe.duckdb"
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "app", "--db", str(typo)], capture_output=True,
                       text=True, cwd=PROJECT_ROOT, timeout=120)
    assert r.returncode == 2 and "no store at" in r.stderr and "Traceback" not in r.stderr
    assert not typo.parent.exists()


@pytest.mark.slow
def test_killing_the_app_process_stops_the_server(app_db):
    from workbench.ui.serve import free_port
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "app", "--db", str(app_db), "--port", str(port)],
                            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the app did not start"
                time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)          # the process a user started, killed hard
        proc.wait(30)
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    break                           # nobody listens any more: no orphan server
            assert time.monotonic() < deadline, "a server still listens after the app process was killed"
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
