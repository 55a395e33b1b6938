"""`workbench plan`: will a model fit on N GPUs, and how many sequences at once? (meta device, no weights read)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="check that a model fits on the GPUs and how many sequences it decodes at once",
                       description="Build the model skeleton on the meta device from its configuration, place it "
                                   "over the GPUs of one replica (--gpus / --replicas) with room for the KV cache of "
                                   "--batch-size sequences at the planned context, and print per-GPU weight and "
                                   "KV-cache memory, the largest batch per replica, and every way to split the GPUs "
                                   "into replicas with a suggested one. `workbench run` loads the weights with this "
                                   "same device map. Exit 1 when it does not fit.")
    p.add_argument("--model", default="qvq-72b-preview", help="qvq-72b-preview (shipped config) or a checkpoint folder")
    p.add_argument("--gpus", type=int, required=True, help="number of GPUs (all replicas together)")
    p.add_argument("--gpu-memory", required=True, help="memory per GPU, e.g. 80GiB")
    p.add_argument("--replicas", type=int, default=1, help="data-parallel copies of the model (must divide --gpus)")
    p.add_argument("--batch-size", type=int, default=1, help="sequences decoded at once per replica")
    p.add_argument("--max-new-tokens", type=int, default=8192)
    p.add_argument("--prompt-tokens", type=int, default=2048, help="prompt length incl. image tokens")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.errors import UsageError, WorkbenchError
    from workbench.models.planner import plan, suggest, suggestion_text
    if args.replicas < 1 or args.gpus % args.replicas:
        raise UsageError(f"--replicas {args.replicas} must divide --gpus {args.gpus}")
    per = args.gpus // args.replicas
    pl = plan(args.model, per, args.gpu_memory, args.max_new_tokens, prompt_tokens=args.prompt_tokens,
              batch_size=args.batch_size, dtype=args.dtype)
    if args.replicas > 1:
        print(f"per replica ({args.replicas} replicas of {per} GPU(s) each):")
    print(pl.text())
    if pl.fits:
        print(f"largest batch per replica: {pl.max_batch}; all {args.replicas} replica(s): "
              f"{args.replicas * pl.max_batch} sequences at once")
    print()
    opts, best = suggest(args.model, args.gpus, args.gpu_memory, args.max_new_tokens, args.prompt_tokens,
                         dtype=args.dtype)
    print(suggestion_text(opts, best))
    if not pl.fits:
        raise WorkbenchError(f"{args.model} does not fit on {per} x {args.gpu_memory}"
                             + (f" with a batch of {args.batch_size}" if args.batch_size > 1 else ""))
    return 0
