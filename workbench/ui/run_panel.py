"""Run page components: start a model run as a detached worker process, follow it (samples done,
tokens/s overall and per replica, ETA, the trace streaming in), cancel it.

The Streamlit process never imports torch: the worker (`workbench run --job-id ...`) does. The
job id lives in the URL (?job=...) so a reload or a rerun finds the running job again.
"""

from __future__ import annotations

import html
from pathlib import Path

import streamlit as st

from workbench.models import jobs
from workbench.models.backends.base import qvq_generation_defaults
from workbench.ui.data import db_path


def start_form() -> None:
    d = qvq_generation_defaults()
    with st.form("run_form"):
        c1, c2 = st.columns(2)
        model = c1.text_input("Model (folder, hub id, or endpoint model name)", "Qwen/QVQ-72B-Preview", key="run_model")
        data = c2.text_input("Data (questions file, or folder of images + questions file)", key="run_data")
        backend = c1.selectbox("Backend", ["transformers", "vllm", "openai"])
        run = c2.text_input("Run name (default: data file name)", key="run_name")
        gpus = c1.text_input("GPUs (e.g. 0,1,2,3; empty = all / CPU)")
        max_memory = c2.text_input("Max memory per GPU (e.g. 75GiB)")
        endpoint = c1.text_input("Endpoint (openai backend), e.g. `http://host:8000/v1`")
        api_key_env = c2.text_input("API key environment variable", "OPENAI_API_KEY")
        max_new = c1.number_input("Max new tokens", 1, 131072, int(d["max_new_tokens"]), key="run_max_new_tokens")
        temperature = c2.number_input("Temperature", 0.0, 2.0, float(d["temperature"]), format="%.3f")
        top_p = c1.number_input("Top-p", 0.0, 1.0, float(d["top_p"]), format="%.3f")
        seed = c2.number_input("Seed", 0, 2**31 - 1, 0)
        limit = c1.number_input("Limit (0 = all samples)", 0, 10**7, 0)
        dtype = c2.selectbox("dtype", ["bfloat16", "float16", "float32"], key="run_dtype")
        st.caption("Throughput: `workbench plan --gpus N --gpu-memory 80GiB` prints the largest batch per replica "
                   "and a suggested split of the GPUs.")
        c3, c4, c5, c6 = st.columns(4)
        batch_size = c3.number_input("Batch size (per replica)", 1, 4096, 1, key="run_batch_size")
        replicas = c4.number_input("Replicas (copies of the model)", 1, 64, 1, key="run_replicas")
        tensor_parallel = c5.number_input("Tensor parallel (vLLM, 0 = all GPUs of a replica)", 0, 64, 0,
                                          key="run_tensor_parallel")
        pipeline_parallel = c6.number_input("Pipeline parallel (vLLM)", 1, 64, 1, key="run_pipeline_parallel")
        executor = st.selectbox("vLLM executor", ["default", "ray (multi-node)", "mp"], key="run_executor")
        concurrency = c1.number_input("Requests in flight (openai backend)", 1, 1024, 4, key="run_concurrency")
        system = st.text_area("System prompt", d["system_prompt"])
        resume = st.checkbox("Resume (skip finished samples of this run)")
        probe = st.checkbox("Probe each finished sample (transformers backend: attention on the image and visual "
                            "dependence, a spread of 8 layers)", key="run_probe")
        go = st.form_submit_button("Start run", type="primary")
    if go:
        if not model or not data:
            st.error("Model and data are required.")
            return
        form = dict(model=model, data=data, backend=backend, run=run, gpus=gpus, max_memory=max_memory,
                    endpoint=endpoint, api_key_env=api_key_env, max_new_tokens=int(max_new), temperature=temperature,
                    top_p=top_p, seed=int(seed), limit=int(limit) or None, dtype=dtype, system_prompt=system,
                    resume=resume, probe=probe, batch_size=int(batch_size), replicas=int(replicas),
                    concurrency=int(concurrency) if backend == "openai" else None,
                    tensor_parallel=int(tensor_parallel) or None if backend == "vllm" else None,
                    pipeline_parallel=int(pipeline_parallel) if backend == "vllm" and pipeline_parallel > 1 else None,
                    distributed_executor={"ray (multi-node)": "ray", "mp": "mp"}.get(executor)
                    if backend == "vllm" else None)
        job_id = jobs.new_job_id()
        pid = jobs.start_detached(jobs.run_argv(form, db_path()), log_dir=Path(db_path()).parent / "logs",
                                  job_id=job_id)
        st.query_params["job"] = job_id
        st.success(f"Job {job_id} started (worker pid {pid}).")


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@st.fragment(run_every=2)
def job_progress(job_id: str) -> None:
    """Samples done, tokens/s, ETA and the current trace streaming in (read from the store)."""
    j = jobs.job_status(db_path(), job_id)
    if j is None:
        st.info(f"Job {job_id} has not written to the store yet (loading the model can take a while).")
        return
    total = j["n_total"] or 0
    finished = j["n_done"] + j["n_failed"] + j["n_skipped"]
    st.progress(min(1.0, finished / total) if total else 0.0,
                text=f"{j['status']}: {finished} / {total} samples")
    c = st.columns(5)
    c[0].metric("Done", j["n_done"])
    c[1].metric("Failed", j["n_failed"])
    c[2].metric("Skipped (resume)", j["n_skipped"])
    c[3].metric("Tokens/s", f"{j['tokens_per_second']:.1f}" if j["tokens_per_second"] else "–")
    c[4].metric("ETA", _fmt_seconds(j["eta_seconds"]))
    if j["message"]:
        (st.error if j["status"] == "failed" else st.info)(j["message"])
    if j["status"] == "dead":
        st.error("The worker process is gone (killed or crashed) before it finished. Start the run again with "
                 "Resume ticked: finished samples are kept, the rest is generated.")
    reps = j["replica_rows"]
    if reps and (len(reps) > 1 or (j.get("batch_size") or 1) > 1):
        st.caption(f"{len(reps)} replica(s), batch size {j.get('batch_size') or 1} each; tokens/s per replica is "
                   "its tokens over the time it had samples in flight")
        st.dataframe([{"replica": r["replica"], "status": r["status"], "GPUs": r["gpus"] or "CPU", "pid": r["pid"],
                       "in flight": r["in_flight"], "done": r["n_done"], "failed": r["n_failed"],
                       "tokens": r["tokens_generated"],
                       "tokens/s": round(r["tokens_per_second"], 1) if r["tokens_per_second"] else None}
                      for r in reps], hide_index=True, use_container_width=True)
    if j["status"] == "running":
        if j["cancel_requested"]:
            st.caption("Cancel requested: the worker stops after saving the current partial trace.")
        elif st.button("Cancel run", key=f"cancel_{job_id}"):
            jobs.request_cancel(db_path(), job_id)
            st.rerun(scope="fragment")
    cur = jobs.current_trace(db_path(), j["run_id"], j["current_sample"])
    if cur:
        st.caption(f"Current sample {cur['sample_id']} ({cur['status']}, {cur['completion_tokens'] or 0} tokens)")
        # Escaped: a trace containing <script> shows as text.
        st.markdown(f"<pre style='white-space:pre-wrap;max-height:24em;overflow:auto'>"
                    f"{html.escape(cur['response'] or '')}</pre>", unsafe_allow_html=True)


def recent_jobs() -> None:
    rows = jobs.latest_jobs(db_path())
    if rows:
        st.subheader("Recent jobs")
        st.dataframe(rows, hide_index=True, use_container_width=True)
