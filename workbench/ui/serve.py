"""Start the Streamlit server for app.py (used by `workbench app`).

Why not plain `streamlit run`: with a `pages/` folder beside app.py, Streamlit starts in its legacy
multipage mode and stays there for the whole process if the first request is a deep link
(e.g. /trace?run=..&sample=..), running the page file without app.py's st.navigation (wrong
sidebar, no shared chrome). Setting the flag st.navigation itself sets, before the server starts,
makes every request go through app.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def main() -> None:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli as stcli

    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", *sys.argv[1:]]
    sys.exit(stcli.main())


if __name__ == "__main__":
    main()


# --- a running app for browser tests and bench/ui.py (one place for start, wait and stop) ---------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(argv: list[str], *, cwd: str | Path, port_flag: str = "--server.port", timeout: float = 120.0,
                   what: str = "the app") -> Iterator[str]:
    """Start a Streamlit server command (`port_flag PORT` appended: a free loopback port); yield its
    URL once healthy; stop it (and its children) after."""
    import os
    import signal
    import subprocess
    import time
    import urllib.request

    port = free_port()
    proc = subprocess.Popen([*argv, port_flag, str(port)],
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not start on {url} (exit code {proc.poll()})") from None
                time.sleep(0.25)
        yield url
    finally:
        with suppress(ProcessLookupError):   # it already ended (e.g. it refused to start)
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


@contextmanager
def running_app(db: str | Path, *, timeout: float = 120.0) -> Iterator[str]:
    """Start `workbench app --db DB` on a free loopback port; yield its URL once healthy; stop it after."""
    from workbench.config import PROJECT_ROOT
    with running_server([sys.executable, "-m", "workbench.cli", "app", "--db", str(db)], cwd=PROJECT_ROOT,
                        port_flag="--port", timeout=timeout) as url:
        yield url
