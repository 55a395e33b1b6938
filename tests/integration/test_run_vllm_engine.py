"""The vLLM path at the engine's boundary: request building, the in-flight window, streaming finished
samples into the store, cancel (abort), tensor/pipeline parallel and the Ray executor, and replicas.

vLLM cannot run on this CPU-only machine, so the engine is tests/fake_engines/vllm: vLLM's
`LLMEngine`/`EngineArgs`/`SamplingParams`/`RequestOutput` interface with vLLM's own names and
signatures (no **kwargs: a call the real engine would refuse fails here), a bounded number of
running sequences and delta outputs. What runs on real GPUs is listed in the README."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

FAKES = Path(__file__).resolve().parents[1] / "fake_engines"
pytestmark = pytest.mark.xdist_group("run_vllm")


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch):
    """`import vllm` / `import ray` find the fakes (spawned replicas inherit sys.path)."""
    monkeypatch.syspath_prepend(str(FAKES))
    for name in [m for m in sys.modules if m.split(".")[0] in ("vllm", "ray")]:
        monkeypatch.delitem(sys.modules, name)
    import vllm
    assert vllm.__file__.startswith(str(FAKES))
    vllm.ENGINES.clear()
    yield vllm
    vllm.STEP_SECONDS = 0.0
    for name in [m for m in sys.modules if m.split(".")[0] in ("vllm", "ray")]:
        del sys.modules[name]   # the fakes must not outlive this test (a later `import vllm` must fail)


def data(tmp_path: Path, n: int, *, corrupt: bool = False) -> Path:
    from workbench.models.testdata import write_questions
    return write_questions(tmp_path / "d", n, corrupt=corrupt)


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_window_streaming_and_records_through_the_engine(fake_vllm, tmp_path: Path) -> None:
    from workbench.models.backends.base import Sampling
    from workbench.models.runner import RunOptions, run_model
    db = tmp_path / "s.duckdb"
    committed: list[tuple[str, int, int]] = []
    fake_vllm.STEP_SECONDS = 0.02   # each engine step takes a little time, as on a GPU

    def hook(run_id: str, sid: str, backend, log) -> None:
        # the writer committed this sample while the engine still had others running
        committed.append((sid, backend.engine.steps, backend.engine.get_num_unfinished_requests()))
        assert rows(db, f"SELECT status FROM samples WHERE sample_id = '{sid}'") == [("ok",)]

    s = run_model(RunOptions(model="Qwen/QVQ-72B-Preview", data=str(data(tmp_path, 12, corrupt=True)), db=str(db),
                             backend="vllm", batch_size=3, sampling=Sampling(max_new_tokens=30, top_alternatives=3),
                             system_prompt="Think."),
                  after_commit=hook, log=lambda m: None)
    assert (s.done, s.failed) == (12, 1)
    engine = fake_vllm.ENGINES[-1]
    a = engine.args
    assert (a.model, a.tensor_parallel_size, a.pipeline_parallel_size, a.max_num_seqs, a.dtype,
            a.limit_mm_per_prompt, a.distributed_executor_backend) == ("Qwen/QVQ-72B-Preview", 1, 1, 3, "bfloat16",
                                                                     {"image": 4}, None)
    # many prompts in the engine at once, never more than the window (2 x max_num_seqs) of them
    assert engine.max_running == 3 and len(engine.added) == 12
    assert engine.max_unfinished <= 6 and engine.max_unfinished >= 4
    assert len({sid for sid, _, _ in committed}) == 12
    assert any(unfinished > 0 for _, _, unfinished in committed), "finished samples stream in while others run"
    got = rows(db, "SELECT sample_id, status, finish_reason, completion_tokens, prompt_tokens, response, error "
                   "FROM samples ORDER BY sample_id")
    assert got[0][0] == "broken" and got[0][1] == "failed" and "broken.png" in got[0][6]
    finishes = {g[2] for g in got[1:]}
    assert finishes <= {"eos", "length"} and len(finishes) == 2
    for sid, status, finish, n, prompt, response, _ in got[1:]:
        assert status == "ok" and prompt > 5 and n <= 30 and (finish == "eos" or n == 30)
        toks = rows(db, f"SELECT token_index, text, logprob, entropy, char_start, char_end, top_alternatives "
                        f"FROM tokens WHERE sample_id = '{sid}' ORDER BY token_index")
        assert [t[0] for t in toks] == list(range(n))
        assert "".join(response[t[4]:t[5]] for t in toks) == response
        assert all(t[2] < 0 and t[3] is None for t in toks), "logprobs from vLLM, no entropy (top-k only)"
        assert toks[0][6].count("[") == 4, "3 alternatives per token"


def test_cancel_aborts_in_flight_requests_and_keeps_what_they_generated(fake_vllm, tmp_path: Path) -> None:
    from workbench.models.backends.base import GenerationRequest, Sampling
    from workbench.models.backends.vllm_backend import VLLMBackend
    b = VLLMBackend("m", batch_size=2, progress_interval=0.0)
    for i in range(5):
        b.submit(GenerationRequest(f"s{i}", f"question {i}", [], None, Sampling(max_new_tokens=400)))
    events = b.step() + b.step() + b.step()
    assert {e.kind for e in events} == {"progress"}, "running requests report their text so far"
    assert {e.sample_id for e in events} == {"s0", "s1"} and all(e.n_tokens in (1, 2, 3) for e in events)
    out = b.cancel()
    assert sorted(b.engine.aborted) == sorted(b.engine.added) and not b.engine.has_unfinished_requests()
    kinds = {e.sample_id: e.kind for e in out}
    assert kinds == {"s0": "done", "s1": "done", "s2": "dropped", "s3": "dropped", "s4": "dropped"}
    cancelled = [e.result for e in out if e.kind == "done"]
    assert all(r.finish_reason == "cancelled" and r.completion_tokens == 3 for r in cancelled)
    assert b.in_flight() == 0


def test_tensor_pipeline_parallel_and_the_ray_executor_reach_the_engine(fake_vllm, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main
    db = tmp_path / "s.duckdb"
    assert main(["run", "--backend", "vllm", "--model", "Qwen/QVQ-72B-Preview", "--data", str(data(tmp_path, 3)),
                 "--db", str(db), "--tensor-parallel", "8", "--pipeline-parallel", "2", "--distributed-executor",
                 "ray", "--batch-size", "64", "--max-new-tokens", "12"]) == 0
    a = fake_vllm.ENGINES[-1].args
    assert (a.tensor_parallel_size, a.pipeline_parallel_size, a.distributed_executor_backend, a.max_num_seqs) == \
           (8, 2, "ray", 64)
    assert "3 done, 0 failed" in capsys.readouterr().out
    # without --tensor-parallel the replica's GPUs make the tensor-parallel group; sizes must add up
    from workbench.models.backends.vllm_backend import engine_args
    kw = engine_args("m", gpus=[0, 1, 2, 3], dtype="bfloat16", max_model_len=32768, batch_size=1, tensor_parallel=None,
                     pipeline_parallel=2, distributed_executor=None)
    assert (kw["tensor_parallel_size"], kw["pipeline_parallel_size"]) == (2, 2) and "max_num_seqs" not in kw
    assert main(["run", "--backend", "vllm", "--model", "m", "--data", "x.jsonl", "--gpus", "0,1,2,3",
                 "--tensor-parallel", "4", "--pipeline-parallel", "2"]) == 2
    assert "must equal the 4 GPU(s) of each replica" in capsys.readouterr().err


@pytest.mark.slow
def test_two_vllm_replicas_store_every_sample_once(fake_vllm, tmp_path: Path) -> None:
    from workbench.cli import main
    db = tmp_path / "s.duckdb"
    assert main(["run", "--backend", "vllm", "--model", "m", "--data", str(data(tmp_path, 10)), "--db", str(db),
                 "--replicas", "2", "--batch-size", "2", "--max-new-tokens", "20", "--run", "dp"]) == 0
    got = rows(db, "SELECT sample_id, status, json_extract(metadata, '$.replica') FROM samples ORDER BY 1")
    assert [g[0] for g in got] == sorted(f"q{i}" for i in range(10)) and {g[1] for g in got} == {"ok"}
    assert {int(g[2]) for g in got} == {0, 1}, "both replicas generated"
    reps = rows(db, "SELECT replica, pid, status, n_done, tokens_generated FROM run_job_replicas ORDER BY replica")
    assert [r[0] for r in reps] == [0, 1] and len({r[1] for r in reps}) == 2
    assert sum(r[3] for r in reps) == 10 and all(r[2] == "done" and r[4] > 0 for r in reps)
    assert rows(db, "SELECT count(*) FROM tokens")[0][0] == \
           rows(db, "SELECT sum(completion_tokens) FROM samples")[0][0]
