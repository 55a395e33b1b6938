"""`workbench probe`: attention to the image and visual dependence along stored traces."""

from __future__ import annotations

import argparse
import sys

from workbench.commands import add_db_option


def add_probe_options(p: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """Options shared by `workbench probe` and `workbench run --probe`."""
    p.add_argument(f"--{prefix}layers", default=None, metavar="SPEC",
                   help="decoder layers to capture: spread (default: 8 layers from first to last), all, "
                        "0,10,20 or 40-79")
    p.add_argument(f"--{prefix}head-max", action="store_true",
                   help="also keep per-step maps with the max over heads (default: head mean only)")
    p.add_argument(f"--{prefix}no-dependence", action="store_true",
                   help="skip the second pass without the image (no visual dependence; half the time)")
    p.add_argument(f"--{prefix}chunk", type=int, default=256,
                   help="queries per attention chunk in the hooks (lower = less memory)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="attention to the image and visual dependence along stored traces",
                       description="Re-read stored traces (imported or generated; the image must be in the store) "
                                   "and run one teacher-forced pass per trace with attention hooks, plus one "
                                   "without the image (visual dependence). Never regenerates text. Stores "
                                   "per-step summaries and model-tier grounding_loss findings; per-token maps go "
                                   "to files under probe_dir. Each sample commits on its own; re-running skips "
                                   "samples probed with the same trace and settings.")
    add_db_option(p)
    p.add_argument("--run", default=None, metavar="NAME", help="run name or id (required when the store has several)")
    p.add_argument("--model", required=True, help="checkpoint folder or hub id (the model that wrote the traces)")
    p.add_argument("--sample", action="append", default=None, metavar="ID", help="only these samples (repeatable)")
    p.add_argument("--limit", type=int, default=None, help="only the first N samples (by id)")
    p.add_argument("--gpus", default=None, help="GPU ids, e.g. 0,1,2,3 (default: all visible; none = CPU)")
    p.add_argument("--max-memory", default=None, help="weight budget per GPU, e.g. 75GiB")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    add_probe_options(p)
    p.add_argument("--system-prompt", default=None,
                   help="system prompt of the traces (default: the run's own, else QVQ's; '' for none)")
    p.add_argument("--fraction-attention", type=float, default=None,
                   help="flag when attention on the image stays below this fraction of its early level (0.5)")
    p.add_argument("--fraction-dependence", type=float, default=None,
                   help="the same for visual dependence (0.35)")
    p.add_argument("--force", action="store_true", help="re-probe samples already probed with these settings")
    p.add_argument("--probe-dir", default=None, help="where per-token map files go (default: setting probe_dir)")
    p.set_defaults(func=run)


def parse_gpus(text: str | None) -> list[int] | None:
    from workbench.errors import UsageError
    try:
        return [int(g) for g in text.split(",") if g.strip()] if text else None
    except ValueError:
        raise UsageError(f"--gpus takes comma-separated GPU ids like 0,1,2,3, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from workbench.errors import UsageError
    from workbench.probe.run import ProbeOptions, probe_samples
    for name in ("fraction_attention", "fraction_dependence"):
        v = getattr(args, name)
        if v is not None and not 0 < v < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be between 0 and 1, got {v}")
    if args.chunk < 1:
        raise UsageError("--chunk must be at least 1")
    opts = ProbeOptions(model=args.model, db=args.db, run=args.run, samples=args.sample, layers=args.layers,
                        gpus=parse_gpus(args.gpus), max_memory=args.max_memory, dtype=args.dtype,
                        head_max=args.head_max, dependence="none" if args.no_dependence else "drop_image",
                        chunk=args.chunk, limit=args.limit, force=args.force, system_prompt=args.system_prompt,
                        fraction_attention=args.fraction_attention,
                        fraction_visual_dependence=args.fraction_dependence, probe_dir=args.probe_dir)
    s = probe_samples(opts, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"probe: {s.probed} probed, {s.up_to_date} already up to date, {s.skipped} skipped, {s.failed} failed; "
          f"{s.findings} model-tier finding(s); {s.seconds:.1f} s")
    return 1 if s.failed and not s.probed else 0
