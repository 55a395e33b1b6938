"""Where generation runs: in this process (`LocalPool`, one engine) or in K data-parallel replica
processes (`ReplicaPool`, `--replicas K`), each with its own copy of the model on its own GPU group.

Replicas never open the store: each receives requests over a pipe, steps its own engine and sends
back events (finished samples with all their tokens, failures, partial traces); the parent process
is the run's one writer. A replica that dies (OOM kill, a crash) is reported as a `dead` event and
its in-flight samples are recorded failed; the other replicas go on. Replicas die with their
parent (PR_SET_PDEATHSIG on Linux, and a closed pipe everywhere), so a SIGKILL of `workbench run`
leaves no orphan holding a GPU.

A hook (`after_commit`, e.g. `run --probe`) runs in the process that holds the model, after the
writer committed the sample: a replica runs it between two engine steps. The hook is a picklable
callable `hook(run_id, sample_id, backend, log)`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from workbench.errors import WorkbenchError
from workbench.models.backends.base import Backend, Event, GenerationRequest

Hook = Callable[[str, str, Any, Callable[[str], None]], None]


@dataclass
class ReplicaSpec:
    index: int
    backend: str
    model: str
    gpus: list[int] | None                 # physical GPU ids of this replica (None: CPU / default devices)
    options: dict[str, Any] = field(default_factory=dict)   # make_backend keyword arguments
    threads: int | None = None             # torch CPU threads (CPU replicas share the cores)
    hook: Hook | None = None


def split_gpus(gpus: list[int] | None, replicas: int) -> list[list[int] | None]:
    """K equal GPU groups in order (0,1,2,3 with 2 replicas -> [0,1], [2,3]); None stays None."""
    if gpus is None:
        return [None] * replicas
    if len(gpus) % replicas:
        from workbench.errors import UsageError
        raise UsageError(f"--replicas {replicas} must divide the {len(gpus)} GPUs of --gpus {','.join(map(str, gpus))}")
    n = len(gpus) // replicas
    return [gpus[i * n:(i + 1) * n] for i in range(replicas)]


class LocalPool:
    """One engine in this process (replica 0)."""

    def __init__(self, backend: Backend, hook: Hook | None = None, gpus: list[int] | None = None,
                 log: Callable[[str], None] = print) -> None:
        self.backend, self.hook, self.log = backend, hook, log
        self.n = 1
        self.model_name = backend.model_name
        self._buffer: list[tuple[int, Event]] = []
        self.info = [{"pid": os.getpid(), "gpus": ",".join(map(str, gpus)) if gpus else None}]

    def live(self) -> list[int]:
        return [0]

    def window(self, k: int) -> int:
        return int(getattr(self.backend, "window", 0) or 2 * max(1, self.backend.capacity))

    def submit(self, k: int, request: GenerationRequest) -> None:
        self.backend.submit(request)

    def poll(self, timeout: float) -> list[tuple[int, Event]]:
        out, self._buffer = self._buffer, []
        if self.backend.in_flight():
            out += [(0, ev) for ev in self.backend.step()]
        elif not out:
            time.sleep(min(timeout, 0.05))
        return out

    def cancel(self) -> None:
        self._buffer += [(0, ev) for ev in self.backend.cancel()]

    def after_commit(self, k: int, run_id: str, sample_id: str) -> None:
        if self.hook is not None:
            run_hook(self.hook, run_id, sample_id, self.backend, self.log)

    def close(self, *, graceful: bool = True) -> None:
        pass


def run_hook(hook: Hook, run_id: str, sample_id: str, backend: Any, log: Callable[[str], None]) -> None:
    """Run the after-commit hook; its failure is logged, never stops the generation."""
    try:
        hook(run_id, sample_id, backend, log)
    except Exception as exc:  # noqa: BLE001 - a hook (e.g. the probe) must not kill the run
        log(f"{sample_id}: after-commit step failed: {type(exc).__name__}: {exc}")


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent process dies (no orphan replicas holding GPUs)."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def replica_main(spec: ReplicaSpec, conn: Connection) -> None:
    """Entry point of a replica process: load the backend, then serve the parent's requests."""
    _die_with_parent()
    if spec.gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in spec.gpus)
    options = dict(spec.options)
    if spec.gpus is not None:
        options["gpus"] = list(range(len(spec.gpus)))   # renumbered by CUDA_VISIBLE_DEVICES
    try:
        if spec.threads:
            try:
                import torch
                torch.set_num_threads(spec.threads)
            except ImportError:
                pass
        from workbench.models.backends import make_backend
        backend = make_backend(spec.backend, spec.model, **options)
    except WorkbenchError as exc:
        conn.send(("error", str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the job with it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", {"pid": os.getpid(), "capacity": backend.capacity, "model_name": backend.model_name,
                         "window": int(getattr(backend, "window", 0) or 2 * max(1, backend.capacity))}))

    def log(msg: str) -> None:
        conn.send(("log", msg))

    try:
        while True:
            timeout = None if backend.in_flight() == 0 else 0
            while conn.poll(timeout):
                msg = conn.recv()
                if msg[0] == "submit":
                    backend.submit(msg[1])
                elif msg[0] == "cancel":
                    conn.send(("events", backend.cancel()))
                elif msg[0] == "after_commit" and spec.hook is not None:
                    run_hook(spec.hook, msg[1], msg[2], backend, log)
                elif msg[0] == "stop":
                    backend.close()
                    return
                timeout = 0
            events = backend.step()
            if events:
                conn.send(("events", events))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return   # the parent is gone


class ReplicaPool:
    """K replica processes (multiprocessing 'spawn': CUDA and torch threads need fresh processes)."""

    def __init__(self, specs: list[ReplicaSpec], log: Callable[[str], None] = print) -> None:
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        self.log = log
        self.n = len(specs)
        self.conns: list[Connection] = []
        self.procs = []
        self.info: list[dict[str, Any]] = []
        self.windows = [1] * self.n
        self.dead: set[int] = set()
        self.model_name = specs[0].model if specs else ""
        for spec in specs:
            parent, child = ctx.Pipe()
            # not daemonic: a vLLM replica starts its own worker processes
            p = ctx.Process(target=replica_main, args=(spec, child), name=f"workbench-replica-{spec.index}")
            p.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(p)
            self.info.append({"pid": p.pid, "gpus": ",".join(map(str, spec.gpus)) if spec.gpus else None})

    def wait_ready(self) -> None:
        """Block until every replica loaded its model; a replica's load error stops them all."""
        waiting = set(range(self.n))
        while waiting:
            for conn in wait([self.conns[k] for k in waiting]):
                k = self.conns.index(conn)
                try:
                    msg = conn.recv()
                except EOFError:
                    self.close(graceful=False)
                    raise WorkbenchError(f"replica {k} (pid {self.procs[k].pid}) exited while loading the model "
                                         f"(exit code {self.procs[k].exitcode})") from None
                if msg[0] == "ready":
                    self.windows[k] = msg[1]["window"]
                    self.model_name = msg[1]["model_name"] or self.model_name
                    waiting.discard(k)
                elif msg[0] == "error":
                    self.close(graceful=False)
                    raise WorkbenchError(f"replica {k}: {msg[1]}")
                elif msg[0] == "log":
                    self.log(f"[replica {k}] {msg[1]}")

    def live(self) -> list[int]:
        return [k for k in range(self.n) if k not in self.dead]

    def window(self, k: int) -> int:
        return self.windows[k]

    def submit(self, k: int, request: GenerationRequest) -> None:
        self._send(k, ("submit", request))

    def _send(self, k: int, msg: tuple) -> None:
        with contextlib.suppress(OSError):   # BrokenPipe, ConnectionReset...: the replica is gone; poll reports it
            self.conns[k].send(msg)

    def poll(self, timeout: float) -> list[tuple[int, Event]]:
        out: list[tuple[int, Event]] = []
        live = {self.conns[k]: k for k in self.live()}
        for conn in wait(list(live), timeout=timeout) if live else []:
            k = live[conn]
            while True:
                try:
                    if not conn.poll():
                        break
                    msg = conn.recv()
                except (EOFError, OSError):
                    self.dead.add(k)
                    self.procs[k].join(timeout=5)
                    out.append((k, Event("", "dead", error=f"replica {k} (pid {self.procs[k].pid}) died "
                                                            f"(exit code {self.procs[k].exitcode})")))
                    break
                if msg[0] == "events":
                    out += [(k, ev) for ev in msg[1]]
                elif msg[0] == "log":
                    self.log(f"[replica {k}] {msg[1]}")
        return out

    def cancel(self) -> None:
        for k in self.live():
            self._send(k, ("cancel",))

    def after_commit(self, k: int, run_id: str, sample_id: str) -> None:
        if k not in self.dead:
            self._send(k, ("after_commit", run_id, sample_id))

    def close(self, *, graceful: bool = True) -> None:
        """Stop the replicas: gracefully (they finish pending hooks, e.g. probes) or at once."""
        for k in self.live():
            self._send(k, ("stop",))
        for k, p in enumerate(self.procs):
            if graceful:
                while p.is_alive():   # relay the replica's last log lines (probes) while it finishes
                    p.join(timeout=0.5)
                    self._drain_logs(k)
                self._drain_logs(k)
            p.join(timeout=10 if graceful else 2)
            if p.is_alive():
                p.terminate()
                p.join(timeout=10)
            if p.is_alive():
                p.kill()

    def _drain_logs(self, k: int) -> None:
        try:
            while self.conns[k].poll():
                msg = self.conns[k].recv()
                if msg[0] == "log":
                    self.log(f"[replica {k}] {msg[1]}")
        except (EOFError, OSError):
            pass
