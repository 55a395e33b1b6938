"""`workbench tiny-model --out DIR`: write a tiny random Qwen2-VL (tests, demos, benches)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tiny-model", help="write a tiny random Qwen2-VL checkpoint",
                       description="Build a tiny random Qwen2-VL in code (config, safetensors weights, BPE "
                                   "tokenizer with Qwen2-VL special tokens, chat template, image processor) "
                                   "loadable with `workbench run --model DIR`. Output is gibberish by design.")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write (created)")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--vision-depth", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--decisive", action="store_true",
                   help="greedy choices lead by a clear margin at every step (batched-generation tests, benches)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.errors import UsageError
    from workbench.models.tiny import build_tiny_model
    try:
        out = build_tiny_model(args.out, layers=args.layers, heads=args.heads, kv_heads=args.kv_heads,
                               hidden=args.hidden, vision_depth=args.vision_depth, seed=args.seed,
                               decisive=args.decisive)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(f"tiny Qwen2-VL written to {out} (use: workbench run --model {out} --data FILE)")
    return 0
