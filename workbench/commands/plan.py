"""`workbench plan`: will a model fit on N GPUs? (meta device, no weights read)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="check that a model fits on the GPUs (no weights read)",
                       description="Build the model skeleton on the meta device from its configuration, place it "
                                   "over the GPUs like device_map='auto' does, and print per-GPU weight memory, "
                                   "KV-cache memory for the context and whether it fits. Exit 1 when it does not.")
    p.add_argument("--model", default="qvq-72b-preview", help="qvq-72b-preview (shipped config) or a checkpoint folder")
    p.add_argument("--gpus", type=int, required=True, help="number of GPUs")
    p.add_argument("--gpu-memory", required=True, help="memory per GPU, e.g. 80GiB")
    p.add_argument("--max-new-tokens", type=int, default=8192)
    p.add_argument("--prompt-tokens", type=int, default=2048, help="prompt length incl. image tokens")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.errors import WorkbenchError
    from workbench.models.planner import plan
    pl = plan(args.model, args.gpus, args.gpu_memory, args.max_new_tokens, prompt_tokens=args.prompt_tokens)
    print(pl.text())
    if not pl.fits:
        raise WorkbenchError(f"{args.model} does not fit on {args.gpus} x {args.gpu_memory}")
    return 0
