"""`workbench probe`: re-read stored traces, one teacher-forced pass each, summaries to the store.

For every chosen sample with a usable image: take the trace's tokens (the run's own token ids
when the run was generated here, else the response re-tokenized with the model's tokenizer),
run `forward.probe_arrays` (attention to image tokens from hooks + visual dependence), pool per
step, write the per-token file (maps.py) and then, in one transaction, the sample's
`probe_traces` / `probe_steps` rows and its model-tier `grounding_loss` findings. Each sample
commits on its own: a crash keeps what finished; re-running skips samples already probed with
the same trace, probe version and settings (`--force` re-probes). A sample that cannot be
probed (no image, empty trace, out of memory) is recorded with the reason and the run goes on.
torch is imported only when a model is loaded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.analysis import reliance
from workbench.errors import UsageError, WorkbenchError
from workbench.probe import maps
from workbench.store import connect
from workbench.store import probes as store_probes
from workbench.store import runs as store_runs

PROBE_VERSION = "probe-1"


@dataclass
class ProbeOptions:
    model: str
    db: str | None = None
    run: str | None = None
    samples: list[str] | None = None
    layers: str | None = None          # "spread" (default), "all", "0,10,20", "40-79"
    gpus: list[int] | None = None
    max_memory: str | None = None
    dtype: str = "bfloat16"
    head_max: bool = False
    dependence: str = "drop_image"     # or "none"
    chunk: int = 256
    limit: int | None = None
    force: bool = False
    system_prompt: str | None = None   # default: the run's own, else QVQ's model-card prompt
    fraction_attention: float | None = None
    fraction_visual_dependence: float | None = None
    probe_dir: str | None = None


@dataclass
class ProbeSummary:
    probed: int = 0
    skipped: int = 0
    failed: int = 0
    up_to_date: int = 0
    findings: int = 0
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)


def probe_dir(opts: ProbeOptions) -> Path:
    from workbench.config import probe_dir as store_probe_dir
    return Path(opts.probe_dir).expanduser() if opts.probe_dir else store_probe_dir(opts.db)


def settings_key(opts: ProbeOptions, layers: list[int]) -> str:
    return json.dumps({"v": PROBE_VERSION, "model": opts.model, "layers": layers, "head_max": opts.head_max,
                       "dependence": opts.dependence, "fa": opts.fraction_attention,
                       "fv": opts.fraction_visual_dependence}, sort_keys=True)


# ---------------------------------------------------------------- reading what to probe

def select_samples(con: Any, opts: ProbeOptions) -> list[dict[str, Any]]:
    runs = store_runs.run_ids(con)
    if not runs:
        raise UsageError("the store has no runs: import or run something first")
    if opts.run is None:
        if len(runs) > 1:
            raise UsageError(f"the store has {len(runs)} runs: choose one with --run ({', '.join(runs[:8])}"
                             f"{', ...' if len(runs) > 8 else ''})")
        run_id = runs[0]
    else:
        run_id = store_runs.resolve_run(con, opts.run)
    rows = store_probes.samples_to_probe(con, run_id, opts.samples, opts.limit)
    if opts.samples:
        missing = sorted(set(opts.samples) - {r["sample_id"] for r in rows})
        if missing:
            raise UsageError(f"run {run_id!r} has no sample(s) {', '.join(map(repr, missing[:5]))}")
    return rows


def load_images(con: Any, image_ids: list[str] | None, sample_id: str = "") -> tuple[list[Any], str | None]:
    """The sample's images as RGB PIL images (the backends' decoder), or ([], why not)."""
    from workbench.errors import InputError
    from workbench.models.backends.base import GenerationRequest, decode_images
    if not image_ids:
        return [], "no image was given with this question"
    blobs = []
    for iid in image_ids:
        data = store_probes.image_bytes(con, iid)
        if data is None:
            return [], f"image {iid} is not in the store (missing at import)"
        blobs.append(data)
    try:
        return decode_images(GenerationRequest(sample_id=sample_id, question="", images=blobs)), None
    except InputError as exc:
        return [], str(exc)


def trace_tokens(con: Any, tokenizer: Any, run_id: str, sample_id: str,
                 response: str) -> tuple[list[int], np.ndarray, str]:
    """Token ids of the trace and each token's (char_start, char_end) in the response."""
    rows = store_probes.stored_tokens(con, run_id, sample_id)
    if rows and all(r[0] is not None for r in rows):
        return [int(r[0]) for r in rows], np.array([[r[1], r[2]] for r in rows], dtype=np.int32), "stored"
    enc = tokenizer(response, add_special_tokens=False, return_offsets_mapping=True)
    spans = np.array(enc["offset_mapping"], dtype=np.int32).reshape(-1, 2)
    return list(enc["input_ids"]), spans, "retokenized"


def trace_steps(con: Any, run_id: str, sample_id: str, response: str) -> list[dict[str, Any]]:
    rows = store_probes.stored_steps(con, run_id, sample_id)
    if rows:
        return rows
    from workbench.analysis.steps import segment  # not analysed yet: the same segmentation
    return [{"step_index": s.index, "char_start": s.char_start, "char_end": s.char_end} for s in segment(response)]


def step_token_ranges(steps: list[dict[str, Any]], spans: np.ndarray) -> np.ndarray:
    """[token_start, token_end) per step: tokens belong to the step holding their first character."""
    starts = spans[:, 0] if len(spans) else np.zeros(0, np.int32)
    out = np.zeros((len(steps), 2), dtype=np.int32)
    for k, s in enumerate(steps):
        out[k, 0] = np.searchsorted(starts, s["char_start"], side="left")
        nxt = steps[k + 1]["char_start"] if k + 1 < len(steps) else None
        end_char = s["char_end"] if nxt is None else nxt
        out[k, 1] = np.searchsorted(starts, end_char, side="left") if nxt is not None else len(starts)
    return out


# ---------------------------------------------------------------- pooling (pure numpy)

def summarise(arr: Any, steps: list[dict[str, Any]], spans: np.ndarray) -> dict[str, Any]:
    """Per-step rows, trace summaries and the ProbeFile from a forward.ProbeArrays."""
    n = arr.attn_mean.shape[1]
    share_tok = arr.image_share                              # (L, n)
    share_mean = share_tok.mean(axis=0)                      # (n,)
    # what uniform attention would put on the image: image tokens / keys visible to each token
    uniform = arr.attn_mean.shape[2] / (arr.prompt_tokens + np.arange(n, dtype=np.float64) + 1)
    lift = share_mean / uniform
    vd = arr.visual_dependence
    ranges = step_token_ranges(steps, spans)
    n_img = arr.attn_mean.shape[2]
    step_maps = np.zeros((len(steps), len(arr.layers), n_img), dtype=np.float32)
    step_maps_max = np.zeros_like(step_maps) if arr.attn_max is not None else None
    grid0 = arr.grids[0]
    rows = []
    for k, s in enumerate(steps):
        a, b = int(ranges[k, 0]), int(ranges[k, 1])
        row = {"step_index": int(s["step_index"]), "token_start": a, "token_end": b,
               "char_start": int(s["char_start"]), "char_end": int(s["char_end"]),
               "relative_position": round(((a + b) / 2) / max(n, 1), 6),
               "image_attention_share": None, "image_attention_share_max": None, "image_attention_lift": None,
               "layer_shares": None, "visual_dependence": None,
               "peak_row": None, "peak_col": None}
        if b > a:
            step_maps[k] = arr.attn_mean[:, a:b].mean(axis=1)
            if step_maps_max is not None:
                step_maps_max[k] = arr.attn_max[:, a:b].mean(axis=1)
            row["image_attention_share"] = float(share_mean[a:b].mean())
            row["image_attention_lift"] = float(lift[a:b].mean())
            row["layer_shares"] = [float(x) for x in share_tok[:, a:b].mean(axis=1)]
            if arr.share_max is not None:
                row["image_attention_share_max"] = float(arr.share_max[:, a:b].mean())
            if vd is not None:
                row["visual_dependence"] = float(vd[a:b].mean())
            r, c = grid0.cell_of_token(int(np.argmax(step_maps[k].mean(axis=0)[:grid0.n_tokens])))
            row["peak_row"], row["peak_col"] = r, c
        rows.append(row)
    q, scale = maps.quantize_rows(arr.attn_mean.mean(axis=0))
    k20 = max(1, round(0.2 * n))
    trace = {"early_image_share": float(share_mean[:k20].mean()), "late_image_share": float(share_mean[-k20:].mean()),
             "early_visual_dependence": float(vd[:k20].mean()) if vd is not None else None,
             "late_visual_dependence": float(vd[-k20:].mean()) if vd is not None else None}
    nan = np.full(n, np.nan, dtype=np.float32)
    pf = maps.ProbeFile(token_maps=q, token_scale=scale, token_share=share_tok.astype(np.float16),
                        logprob_image=arr.logprob_image.astype(np.float32),
                        logprob_no_image=(arr.logprob_no_image.astype(np.float32) if arr.logprob_no_image is not None
                                          else nan),
                        token_share_max=arr.share_max.astype(np.float16) if arr.share_max is not None else None,
                        token_spans=spans.astype(np.int32), step_tokens=ranges,
                        step_maps=step_maps.astype(np.float16),
                        step_maps_max=step_maps_max.astype(np.float16) if step_maps_max is not None else None,
                        meta={"layers": arr.layers, "grids": [g.to_dict() for g in arr.grids],
                              "prompt_tokens": arr.prompt_tokens, "probe_version": PROBE_VERSION,
                              "step_index": [int(s["step_index"]) for s in steps]})
    return {"steps": rows, "trace": trace, "file": pf}


# ---------------------------------------------------------------- writing

def _write_result(db: Any, row: dict[str, Any], trace: dict[str, Any], steps: list[dict[str, Any]],
                  findings: list[Any]) -> None:
    with connect(db) as con:
        store_probes.write_probe_result(con, {**row, **trace}, steps, findings, detector=reliance.NAME,
                                        version=reliance.VERSION, tiers=list(reliance.TIERS))


def _status_only(db: Any, s: dict[str, Any], opts: ProbeOptions, status: str, error: str, layers: list[int]) -> None:
    _write_result(db, {"run_id": s["run_id"], "sample_id": s["sample_id"], "probe_version": PROBE_VERSION,
                       "model": opts.model, "status": status, "error": error[:2000], "layers": layers,
                       "head_max": opts.head_max, "dependence": opts.dependence,
                       "content_hash": s["content_hash"] + "|" + settings_key(opts, layers)}, {}, [], [])


def already_done(db: Any, run_id: str, key_hashes: dict[str, str]) -> set[str]:
    with connect(db) as con:
        # skipped (e.g. image missing) and failed samples are looked at again: an image may have arrived
        hashes = store_probes.probed_hashes(con, run_id)
    return {sid for sid, h in hashes.items() if key_hashes.get(sid) == h}


def probe_samples(opts: ProbeOptions, *, lm: Any = None, log: Callable[[str], None] = print) -> ProbeSummary:
    """Probe the chosen samples into the store. `lm` (a loaded model) may be passed to reuse it."""
    from workbench.probe.layers import parse_layers
    t_all = time.monotonic()
    if opts.dependence not in ("drop_image", "none"):
        raise UsageError(f"--dependence must be drop_image or none, not {opts.dependence!r}")
    with connect(opts.db) as con:
        todo = select_samples(con, opts)
    summary = ProbeSummary()
    if not todo:
        log("nothing to probe: no samples matched")
        return summary
    try:
        layers = parse_layers(opts.layers, n_decoder_layers(opts.model, lm))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    key_of = {s["sample_id"]: s["content_hash"] + "|" + settings_key(opts, layers) for s in todo}
    done = set() if opts.force else already_done(opts.db, todo[0]["run_id"], key_of)
    summary.up_to_date = sum(s["sample_id"] in done for s in todo)
    todo = [s for s in todo if s["sample_id"] not in done]
    if summary.up_to_date:
        log(f"{summary.up_to_date} sample(s) already probed with these settings (--force to redo)")
    out_dir = probe_dir(opts)
    for k, s in enumerate(todo, 1):
        t0 = time.monotonic()
        prefix = f"[{k}/{len(todo)}] {s['sample_id']}"
        with connect(opts.db) as con:
            images, why = load_images(con, s["image_ids"], s["sample_id"])
        if not s["response"]:
            why, images = why or "the trace is empty", []
        if not images:
            _status_only(opts.db, s, opts, "skipped", why or "no image", layers)
            summary.skipped += 1
            log(f"{prefix}: skipped: {why}")
            continue
        if lm is None:   # loaded at the first sample that needs it (skips need no model); no store lock held
            from workbench.models.loader import load_model
            log(f"loading {opts.model} ...")
            lm = load_model(opts.model, gpus=opts.gpus, max_memory=opts.max_memory, dtype=opts.dtype)
        with connect(opts.db) as con:
            ids, spans, source = trace_tokens(con, lm.tokenizer, s["run_id"], s["sample_id"], s["response"])
            steps = trace_steps(con, s["run_id"], s["sample_id"], s["response"])
        if not ids:
            _status_only(opts.db, s, opts, "skipped", "the trace has no tokens", layers)
            summary.skipped += 1
            continue
        try:
            res = probe_one(lm, s, images, ids, spans, steps, layers, opts)
        except (WorkbenchError, ValueError, RuntimeError) as exc:
            msg = _oom_message(exc, len(ids)) or str(exc)
            _status_only(opts.db, s, opts, "failed", msg, layers)
            summary.failed += 1
            log(f"{prefix}: failed: {msg}")
            continue
        rel = maps.file_name(s["run_id"], s["sample_id"])
        size = maps.write(out_dir / rel, res["file"])
        findings = reliance.detect_all(res["steps"], fraction_attention=opts.fraction_attention,
                                       fraction_visual_dependence=opts.fraction_visual_dependence)
        secs = time.monotonic() - t0
        _write_result(opts.db, {
            "run_id": s["run_id"], "sample_id": s["sample_id"], "probe_version": PROBE_VERSION, "model": opts.model,
            "status": "ok", "error": None, "layers": layers, "head_max": opts.head_max, "dependence": opts.dependence,
            "n_tokens": len(ids), "token_source": source, "prompt_tokens": res["prompt_tokens"],
            "n_image_tokens": res["n_image_tokens"], "grids": json.dumps(res["file"].meta["grids"]),
            "maps_path": rel, "maps_bytes": size, "content_hash": key_of[s["sample_id"]], "seconds": round(secs, 3)},
            res["trace"], res["steps"], findings)
        summary.probed += 1
        summary.findings += len(findings)
        log(f"{prefix}: {len(ids):,} tokens, {len(steps)} steps, {size / 1e6:.2f} MB of maps, "
            f"{len(findings)} finding(s), {secs:.1f} s")
    summary.seconds = time.monotonic() - t_all
    return summary


def n_decoder_layers(model: str, lm: Any = None) -> int:
    """Decoder layers of the model, from a loaded model or its config (without loading weights)."""
    if lm is not None:
        from workbench.probe.capture import decoder_layers
        return len(decoder_layers(lm.model))
    from workbench.models.loader import read_config
    cfg = read_config(model)
    n = (cfg.get("text_config") or {}).get("num_hidden_layers") or cfg.get("num_hidden_layers")
    if not n:
        raise WorkbenchError(f"{model}: config.json does not say how many decoder layers the model has")
    return int(n)


def _oom_message(exc: Exception, n_tokens: int) -> str | None:
    if "out of memory" in str(exc).lower():
        return (f"out of memory probing {n_tokens:,} tokens: probe fewer --layers, lower --chunk, or add GPUs "
                f"({str(exc)[:200]})")
    return None


def probe_one(lm: Any, s: dict[str, Any], images: list[Any], ids: list[int], spans: np.ndarray,
              steps: list[dict[str, Any]], layers: list[int], opts: ProbeOptions) -> dict[str, Any]:
    """One trace: the two teacher-forced passes and their pooled summaries."""
    from workbench.probe.forward import probe_arrays
    arr = probe_arrays(lm, s["question"] or "", images, ids, layers=layers, system_prompt=system_prompt(s, opts),
                       chunk=opts.chunk, head_max=opts.head_max, dependence=opts.dependence)
    out = summarise(arr, steps, spans)
    out["prompt_tokens"] = arr.prompt_tokens
    out["n_image_tokens"] = int(arr.attn_mean.shape[2])
    return out


def system_prompt(s: dict[str, Any], opts: ProbeOptions) -> str | None:
    """The system prompt the trace was generated with: --system-prompt, the run's own setting,
    else QVQ's model-card prompt (imported QVQ traces were made with it)."""
    if opts.system_prompt is not None:
        return opts.system_prompt or None
    try:
        settings = json.loads(s.get("settings") or "{}")
    except ValueError:
        settings = {}
    if isinstance(settings, dict) and "system_prompt" in settings:
        return settings.get("system_prompt") or None
    from workbench.models.backends.base import qvq_generation_defaults
    return qvq_generation_defaults().get("system_prompt")
