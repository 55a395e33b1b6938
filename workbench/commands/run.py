"""`workbench run`: generate traces with a model into the store (crash-safe, resumable, batched,
data-parallel). Composes the run with the probe (`--probe`): the probe is handed to the runner as
an after-commit hook that runs where the model is loaded."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.commands import add_db_option

if TYPE_CHECKING:
    from workbench.models.runner import RunOptions


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a model over questions+images into the store",
                       description="Generate traces with a model (transformers, vllm or an OpenAI-compatible "
                                   "endpoint) and store each sample with every token's logprob and entropy. "
                                   "Each finished sample is committed at once; partial traces are saved every "
                                   "few seconds; --resume continues a run. --batch-size decodes several samples at "
                                   "once, --replicas runs several copies of the model (one writer to the store), "
                                   "vLLM adds tensor/pipeline parallel and multi-node through Ray. Defaults: "
                                   "QVQ-72B-Preview's system prompt and generation config.")
    p.add_argument("--model", required=True, help="checkpoint folder, hub id, or endpoint model name")
    p.add_argument("--data", required=True, help="questions file the importer reads, or a folder of images "
                                                 "with one questions file")
    p.add_argument("--run", default=None, metavar="NAME", help="run name (default: the data file's stem)")
    p.add_argument("--backend", choices=["transformers", "vllm", "openai"], default="transformers")
    add_db_option(p)
    p.add_argument("--gpus", default=None, help="GPU ids, e.g. 0,1,2,3 (default: all visible; none = CPU); "
                                                "--replicas splits them into equal groups")
    p.add_argument("--max-memory", default=None, help="memory per GPU the run may use (weights + KV cache + reserve), "
                                                      "e.g. 75GiB (default: the GPU's memory); see `workbench plan`")
    p.add_argument("--batch-size", type=int, default=1,
                   help="sequences decoded at once per replica (transformers: continuous batching; vLLM: "
                        "max_num_seqs); `workbench plan` prints the largest that fits")
    p.add_argument("--replicas", type=int, default=1,
                   help="data-parallel copies of the model, each in its own process on len(--gpus)/N GPUs")
    p.add_argument("--tensor-parallel", type=int, default=None,
                   help="vllm: tensor-parallel size per replica (default: all GPUs of the replica)")
    p.add_argument("--pipeline-parallel", type=int, default=1, help="vllm: pipeline-parallel size")
    p.add_argument("--distributed-executor", choices=["ray", "mp"], default=None,
                   help="vllm: 'ray' runs the engine over a Ray cluster (multi-node), 'mp' over local processes")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--repetition-penalty", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top-alternatives", type=int, default=0, help="record the N most likely tokens per step")
    p.add_argument("--system-prompt", default=None, help="default: QVQ's; '' for none")
    p.add_argument("--resume", action="store_true", help="continue the run: skip finished samples")
    p.add_argument("--limit", type=int, default=None, help="only the first N samples")
    p.add_argument("--endpoint", default=None, help="openai backend: base URL, e.g. http://host:8000/v1")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="env variable holding the endpoint's API key")
    p.add_argument("--concurrency", type=int, default=4, help="openai backend: requests in flight")
    p.add_argument("--progress-interval", type=float, default=2.0, help="seconds between partial-trace saves")
    p.add_argument("--probe", action="store_true",
                   help="transformers backend: probe each finished sample at once (attention on the image, visual "
                        "dependence; see `workbench probe`), reusing the loaded model of the replica that wrote it")
    from workbench.commands.probe import add_probe_options
    add_probe_options(p, prefix="probe-")
    p.add_argument("--detach", action="store_true", help="start a background worker process and return")
    p.add_argument("--job-id", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> RunOptions:  # imported lazily: torch stays off start-up
    from workbench.errors import UsageError
    from workbench.models.backends.base import Sampling, qvq_generation_defaults
    from workbench.models.runner import RunOptions
    d = qvq_generation_defaults()
    try:
        gpus = [int(g) for g in args.gpus.split(",") if g.strip()] if args.gpus else None
    except ValueError:
        raise UsageError(f"--gpus takes comma-separated GPU ids like 0,1,2,3, got {args.gpus!r}") from None
    pick = lambda v, k: d.get(k) if v is None else v  # noqa: E731
    # QVQ's top-k 1 / top-p 0.001 make its sampling greedy; a user-chosen temperature means real
    # sampling, so those two defaults then no longer apply (unless given explicitly).
    own = args.temperature is not None
    sampling = Sampling(max_new_tokens=pick(args.max_new_tokens, "max_new_tokens"),
                        temperature=pick(args.temperature, "temperature"),
                        top_p=args.top_p if own else pick(args.top_p, "top_p"),
                        top_k=args.top_k if own else pick(args.top_k, "top_k"),
                        repetition_penalty=pick(args.repetition_penalty, "repetition_penalty"),
                        seed=args.seed, top_alternatives=args.top_alternatives)
    if sampling.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be at least 1")
    for flag, value in (("--batch-size", args.batch_size), ("--replicas", args.replicas),
                        ("--pipeline-parallel", args.pipeline_parallel), ("--concurrency", args.concurrency)):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1")
    if args.tensor_parallel is not None and args.tensor_parallel < 1:
        raise UsageError("--tensor-parallel must be at least 1")
    vllm_only = [f for f, v in (("--tensor-parallel", args.tensor_parallel is not None),
                                ("--pipeline-parallel", args.pipeline_parallel != 1),
                                ("--distributed-executor", args.distributed_executor is not None)) if v]
    if vllm_only and args.backend != "vllm":
        raise UsageError(f"{', '.join(vllm_only)}: vLLM options (use --backend vllm); the transformers backend "
                         "spreads one copy of the model over its GPUs' memory (see `workbench plan`)")
    if args.replicas > 1 and args.backend == "openai":
        raise UsageError("--replicas is for local models; an endpoint takes more requests with --concurrency")
    if args.replicas > 1 and args.distributed_executor == "ray":
        raise UsageError("--replicas with --distributed-executor ray: one vLLM engine spans the Ray cluster; "
                         "run one job per engine instead")
    if gpus and len(gpus) % args.replicas:
        raise UsageError(f"--replicas {args.replicas} must divide the {len(gpus)} GPUs of --gpus {args.gpus}")
    if args.backend == "vllm" and gpus and args.distributed_executor != "ray":
        per = len(gpus) // args.replicas
        if (args.tensor_parallel or per // args.pipeline_parallel) * args.pipeline_parallel != per:
            raise UsageError(f"--tensor-parallel x --pipeline-parallel must equal the {per} GPU(s) of each replica")
    system = d["system_prompt"] if args.system_prompt is None else (args.system_prompt or None)
    return RunOptions(model=args.model, data=args.data, run=args.run, backend=args.backend, db=args.db,
                      gpus=gpus, max_memory=args.max_memory, dtype=args.dtype, sampling=sampling,
                      system_prompt=system, resume=args.resume, limit=args.limit, endpoint=args.endpoint,
                      api_key_env=args.api_key_env, concurrency=args.concurrency,
                      progress_interval=args.progress_interval, batch_size=args.batch_size, replicas=args.replicas,
                      tensor_parallel=args.tensor_parallel, pipeline_parallel=args.pipeline_parallel,
                      distributed_executor=args.distributed_executor)


@dataclass
class ProbeAfterCommit:
    """`run --probe`: the probe's teacher-forced passes on each sample just committed, with the model
    that generated it (in the replica holding it). Picklable: replicas receive it at start."""
    model: str
    db: str | None
    system_prompt: str | None
    options: dict[str, Any]

    def __call__(self, run_id: str, sample_id: str, backend: Any, log: Callable[[str], None]) -> None:
        lm = getattr(backend, "lm", None)
        if lm is None:
            log(f"{sample_id}: not probed: the {getattr(backend, 'name', '?')} backend has no local model")
            return
        from workbench.probe.run import ProbeOptions, probe_samples
        popts = ProbeOptions(model=self.model, db=self.db, run=run_id, samples=[sample_id], force=True,
                             system_prompt=self.system_prompt or "", **self.options)
        probe_samples(popts, lm=lm, log=lambda m: log("probe " + m))


def probe_hook(args: argparse.Namespace, opts: Any) -> ProbeAfterCommit | None:
    if not getattr(args, "probe", False):
        return None
    from workbench.errors import UsageError
    if args.backend != "transformers":
        raise UsageError("--probe needs the transformers backend (vLLM and endpoints never return attention); "
                         "probe the run afterwards with `workbench probe --model PATH`")
    return ProbeAfterCommit(model=opts.model, db=opts.db, system_prompt=opts.system_prompt,
                            options={"layers": args.probe_layers, "head_max": args.probe_head_max,
                                     "dependence": "none" if args.probe_no_dependence else "drop_image",
                                     "chunk": args.probe_chunk})


def run(args: argparse.Namespace) -> int:
    from workbench.models import jobs
    if args.detach:
        from workbench.store import resolve_db_path
        argv = [a for a in sys.argv[2:] if a != "--detach"] if sys.argv[1:2] == ["run"] else None
        if argv is None:
            raise SystemExit("--detach is only available from the command line")
        job_id = jobs.new_job_id()
        pid = jobs.start_detached(argv, log_dir=resolve_db_path(args.db).parent / "logs", job_id=job_id)
        print(f"job {job_id} started (pid {pid}); follow it on the Run page or with `workbench runs`")
        return 0
    from workbench.errors import WorkbenchError
    try:
        opts = options_from_args(args)
        hook = probe_hook(args, opts)
        from workbench.models.runner import run_model
        s = run_model(opts, job_id=args.job_id, after_commit=hook, log=lambda m: print(m, file=sys.stderr, flush=True))
    except WorkbenchError as exc:
        if args.job_id:  # a worker started by the Run page: make the failure visible there
            from workbench.records import slugify_run
            jobs.fail_job(args.db, args.job_id, slugify_run(args.run or Path(args.data).stem), str(exc))
        raise
    rate = f", {s.tokens / s.seconds:.1f} tokens/s" if s.seconds else ""
    print(f"run {s.run_id}: {s.done} done, {s.failed} failed, {s.skipped} skipped (already finished); "
          f"{s.tokens} tokens{rate}; job {s.job_id} {s.status}")
    return 0
