"""`workbench app`: start the Streamlit app on a store (bound to 127.0.0.1 by default)."""

from __future__ import annotations

import argparse
import os
import sys

from workbench.commands import add_db_option
from workbench.config import PROJECT_ROOT, setting


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="start the Streamlit app",
                       description="Start the workbench app. On the default store, a missing store is "
                                   "first filled with the synthetic demo run; a --db that does not exist is an "
                                   "error (no store is created by mistake). The server runs in this process: "
                                   "stopping it (Ctrl-C, kill) stops the server.")
    add_db_option(p)
    p.add_argument("--host", default=setting("host"), help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(setting("port")))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.config import default_db_path
    from workbench.errors import UsageError
    from workbench.store import resolve_db_path
    db = resolve_db_path(args.db)
    if not db.exists():
        if db.resolve() != default_db_path().expanduser().resolve():
            raise UsageError(f"no store at {db}: check the path, or create it with `workbench import FILE --db {db}` "
                             f"(or `workbench demo --db {db}` for the synthetic demo)")
        from workbench.demo import build_demo
        print(f"workbench app: no store at {db}; building the synthetic demo run first")
        build_demo(db)
        from workbench.demo import cluster_demo
        cluster_demo(db)
        from workbench.probe.demo import can_probe, probe_demo
        if can_probe():
            print("workbench app: probing the demo with a tiny random Qwen2-VL (shows the probe views; its maps "
                  "mean nothing)", flush=True)
            probe_demo(db)
    env = dict(os.environ, WORKBENCH_DB=str(db))
    cmd = [sys.executable, "-m", "workbench.ui.serve", str(PROJECT_ROOT / "app.py"),
           "--server.address", args.host, "--server.port", str(args.port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal"]
    print(f"workbench app: serving {db} at http://{args.host}:{args.port}/", flush=True)
    # exec, not a child process: the server is this process, so stopping `workbench app` (even with
    # SIGKILL) stops the server and frees the port.
    os.execve(sys.executable, cmd, env)
    return 0  # not reached
