"""The probe with the tiny Qwen2-VL on CPU: hooks vs eager attentions, the image grid, visual
dependence, a 4,000-token trace end to end through `workbench probe`, and `run --probe`."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")
pytestmark = [pytest.mark.models, pytest.mark.xdist_group("probe")]

QUESTION = "How many circles are in the picture?"
TRACE = "Let me look at the image carefully and think step by step. The bar chart shows sales per year."


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from workbench.models.tiny import build_tiny_model
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", layers=3, heads=4, kv_heads=2, hidden=64)


@pytest.fixture(scope="module")
def eager(tiny: Path):
    from workbench.models.loader import load_model
    return load_model(tiny, dtype="float32", attn_implementation="eager")


@pytest.fixture(scope="module")
def sdpa(tiny: Path):
    from workbench.models.loader import load_model
    return load_model(tiny, dtype="float32", attn_implementation="sdpa")


def picture(size: tuple[int, int] = (300, 200)) -> Image.Image:
    im = Image.new("RGB", size, "white")
    for k in range(0, size[0], 40):
        im.paste((30, 120, 200), (k, 10, k + 15, 25))
    return im


def test_hooks_equal_eager_output_attentions_on_image_columns_for_every_layer(eager, sdpa) -> None:
    import torch

    from workbench.probe.forward import probe_arrays, prompt_inputs
    ids = eager.tokenizer(TRACE)["input_ids"]
    img = picture()
    inputs, prompt_len = prompt_inputs(eager, QUESTION, [img], None, ids)
    img_pos = (inputs["input_ids"][0] == eager.model.config.image_token_id).nonzero().view(-1)
    with torch.no_grad():
        ref = eager.model(**inputs, output_attentions=True, use_cache=False).attentions
    assert len(ref) == 3
    for lm in (eager, sdpa):   # the hooks work while the model keeps its sdpa kernels too
        got = probe_arrays(lm, QUESTION, [img], ids, layers=[0, 1, 2], head_max=True, chunk=7, dependence="none")
        assert got.attn_mean.shape == (3, len(ids), img_pos.numel())
        for li in range(3):
            cols = ref[li][0][:, prompt_len:, :][:, :, img_pos]          # (heads, generated, image tokens)
            assert np.abs(cols.mean(0).numpy() - got.attn_mean[li]).max() <= 1e-5
            assert np.abs(cols.amax(0).numpy() - got.attn_max[li]).max() <= 1e-5
            share = ref[li][0][:, prompt_len:, :][:, :, img_pos].sum(-1).mean(0).numpy()
            assert np.abs(share - got.image_share[li]).max() <= 1e-5
            share_max = ref[li][0][:, prompt_len:, :][:, :, img_pos].sum(-1).amax(0).numpy()
            assert np.abs(share_max - got.share_max[li]).max() <= 1e-5


def test_visual_dependence_is_exactly_zero_on_the_same_input_and_not_without_the_image(sdpa) -> None:
    from workbench.probe.forward import probe_arrays
    ids = sdpa.tokenizer(TRACE)["input_ids"]
    same = probe_arrays(sdpa, QUESTION, [picture()], ids, layers=[1], dependence="same_input")
    assert same.visual_dependence is not None and np.all(same.visual_dependence == 0.0)
    dropped = probe_arrays(sdpa, QUESTION, [picture()], ids, layers=[1], dependence="drop_image")
    assert np.abs(dropped.visual_dependence).max() > 1e-4
    assert np.all(dropped.logprob_image <= 0) and np.array_equal(dropped.logprob_image, same.logprob_image)


@pytest.mark.parametrize("size,cell", [((224, 224), (5, 2)), ((600, 400), (1, 7)), ((250, 560), (9, 3))])
def test_image_token_to_cell_mapping_with_a_painted_block(sdpa, size: tuple, cell: tuple) -> None:
    """Paint the inside of one grid cell; exactly that image token's patches see the paint, and
    the overlay of a map hot on that token lights up the painted pixels."""
    from workbench.probe.forward import prompt_inputs
    from workbench.probe.grid import grids_from_thw
    from workbench.viz import overlay
    blank = Image.new("RGB", size, "white")
    inputs, _ = prompt_inputs(sdpa, QUESTION, [blank], None, [1])
    grid = grids_from_thw(inputs["image_grid_thw"], [size])[0]
    assert grid.n_tokens == int((inputs["input_ids"][0] == sdpa.model.config.image_token_id).sum())
    r, c = cell
    assert r < grid.rows and c < grid.cols
    x0, y0, x1, y1 = grid.cell_box(r, c)
    mx, my = (x1 - x0) * 0.3, (y1 - y0) * 0.3
    box = (round(x0 + mx), round(y0 + my), round(x1 - mx), round(y1 - my))
    painted = blank.copy()
    painted.paste((200, 20, 20), box)
    pv_blank = prompt_inputs(sdpa, QUESTION, [blank], None, [1])[0]["pixel_values"].numpy()
    pv = prompt_inputs(sdpa, QUESTION, [painted], None, [1])[0]["pixel_values"].numpy()
    # Qwen2-VL's merger turns 4 consecutive patches (a 2x2 window) into one image token
    changed = np.abs(pv - pv_blank).reshape(grid.n_tokens, -1).max(axis=1) > 1e-3
    assert sorted(np.flatnonzero(changed).tolist()) == [grid.token_of_cell(r, c)]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    assert grid.cell_at_pixel(cx, cy) == (r, c)
    hot = np.zeros(grid.n_tokens, dtype=np.float32)
    hot[np.flatnonzero(changed)] = 1.0
    out = overlay.render_overlay(painted, grid, hot, opacity=1.0, cmap="inferno")
    assert out.getpixel((int(cx), int(cy))) == tuple(overlay.colormap("inferno")[255])
    assert out.getpixel((0 if c else size[0] - 1, 0 if r else size[1] - 1)) == tuple(overlay.colormap("inferno")[0])


def long_trace(tokenizer, n_tokens: int) -> str:
    sentences = ["Let me look at the image carefully and think step by step.",
                 "The triangle has sides of length 3, 4 and 5, so it is a right triangle.",
                 "The bar chart shows sales per year; the highest bar is in 2019.",
                 "Wait, I should double-check the angle. Hmm, maybe the answer is 42."]
    paras, k = [], 0
    while True:
        para = " ".join(sentences[(k + j) % 4] for j in range(4))
        paras.append(f"Step {k}: {para}")
        k += 1
        text = "\n\n".join(paras)
        if k % 10 == 0 and len(tokenizer(text)["input_ids"]) >= n_tokens:
            return text + "\n\nSo the final answer is 42."


def write_store(tmp: Path, tokenizer, n_tokens: int) -> Path:
    from workbench.cli import main
    picture((448, 336)).save(tmp / "pic.png")
    rows = [{"id": "long", "question": QUESTION, "response": long_trace(tokenizer, n_tokens), "image": "pic.png",
             "answer": "42"},
            {"id": "no-image", "question": QUESTION, "response": TRACE, "answer": "3"}]
    (tmp / "traces.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    db = tmp / "s.duckdb"
    assert main(["import", str(tmp / "traces.jsonl"), "--db", str(db), "--run", "probe me"]) == 0
    assert main(["analyze", "--db", str(db)]) == 0
    return db


def q(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_probe_of_a_4000_token_trace_stores_summaries_and_is_idempotent(tiny: Path, eager, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.cli import main
    from workbench.probe import maps
    monkeypatch.setenv("WORKBENCH_PROBE_DIR", str(tmp_path / "probes"))
    db = write_store(tmp_path, eager.tokenizer, 4000)
    capsys.readouterr()
    rc = main(["probe", "--db", str(db), "--model", str(tiny), "--dtype", "float32", "--layers", "all",
               "--head-max"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "1 probed, 0 already up to date, 1 skipped, 0 failed" in out.out
    assert "no-image: skipped: no image was given" in out.err
    (status, n_tok, source, n_img, path, size, early, late, layers, grids), = q(db, """
        SELECT status, n_tokens, token_source, n_image_tokens, maps_path, maps_bytes, early_image_share,
               late_image_share, layers, grids FROM probe_traces WHERE sample_id = 'long'""")
    assert status == "ok" and n_tok >= 4000 and source == "retokenized" and layers == [0, 1, 2]
    g = json.loads(grids)[0]            # 448x336 fits 224*224 px as 252x168: 9 x 6 cells of 28 px
    assert (g["image_width"], g["image_height"], g["h"], g["w"]) == (448, 336, 12, 18) and n_img == 54
    assert 0 < late < early < 1
    steps = q(db, "SELECT step_index, char_start, char_end FROM steps WHERE sample_id = 'long' ORDER BY 1")
    psteps = q(db, """SELECT step_index, token_start, token_end, image_attention_share, visual_dependence,
                             len(layer_shares), peak_row FROM probe_steps WHERE sample_id = 'long' ORDER BY 1""")
    assert [s[0] for s in psteps] == [s[0] for s in steps] and len(steps) > 20
    assert psteps[0][1] == 0 and psteps[-1][2] == n_tok
    assert all(a[2] == b[1] for a, b in itertools.pairwise(psteps))            # steps tile the tokens
    assert all(p[3] is not None and 0 < p[3] < 1 and p[4] is not None and p[5] == 3 for p in psteps)
    pf = maps.read(tmp_path / "probes" / path)
    assert size == (tmp_path / "probes" / path).stat().st_size and size < 3_000_000
    assert pf.token_maps.shape == (n_tok, n_img) and pf.step_maps_max is not None
    response = q(db, "SELECT response FROM samples WHERE sample_id = 'long'")[0][0]
    s0, s1 = pf.token_spans[5]
    assert response[s0:s1] and response.startswith(response[:s1])
    # model-tier findings, if any, say their tier and never collide with text-tier rows
    for tier, idx in q(db, "SELECT tier, finding_index FROM flags WHERE tier != 'text'"):
        assert tier in ("attention", "visual_dependence") and idx >= 100
    # re-running is idempotent; --force re-probes
    assert main(["probe", "--db", str(db), "--model", str(tiny), "--dtype", "float32", "--layers", "all",
                 "--head-max"]) == 0
    out = capsys.readouterr()
    assert "0 probed, 1 already up to date, 1 skipped" in out.out and "loading" not in out.err
    assert main(["probe", "--db", str(db), "--model", str(tiny), "--dtype", "float32", "--layers", "all",
                 "--head-max", "--force"]) == 0
    assert "1 probed, 0 already up to date, 1 skipped" in capsys.readouterr().out
    assert main(["probe", "--db", str(db), "--model", str(tiny), "--dtype", "float32", "--layers", "0",
                 "--sample", "long"]) == 0
    assert "1 probed" in capsys.readouterr().out                         # other settings: probed again
    assert q(db, "SELECT layers FROM probe_traces WHERE sample_id = 'long'") == [([0],)]
    assert q(db, "SELECT count(*) FROM probe_steps WHERE sample_id = 'long'")[0][0] == len(steps)


def test_probe_usage_errors_are_clear(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main
    db = tmp_path / "e.duckdb"
    assert main(["demo", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["probe", "--db", str(db), "--model", str(tiny), "--run", "nope"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err
    assert main(["probe", "--db", str(db), "--model", str(tiny), "--sample", "ghost"]) == 2
    assert "no sample(s) 'ghost'" in capsys.readouterr().err
    assert main(["probe", "--db", str(db), "--model", str(tiny), "--layers", "7", "--limit", "1"]) == 2
    assert "layer 7 does not exist (the model has 3 decoder layers" in capsys.readouterr().err
    assert main(["probe", "--db", str(db), "--model", str(tmp_path / "no-model")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_run_with_probe_captures_during_the_run(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.cli import main
    from workbench.models.testdata import write_questions
    monkeypatch.setenv("WORKBENCH_PROBE_DIR", str(tmp_path / "probes"))
    data = write_questions(tmp_path / "data", 2)
    db = tmp_path / "r.duckdb"
    assert main(["run", "--model", str(tiny), "--data", str(data), "--db", str(db), "--run", "gen",
                 "--max-new-tokens", "24", "--dtype", "float32", "--probe", "--probe-layers", "0,2"]) == 0
    rows = q(db, "SELECT sample_id, status, token_source, n_tokens, layers FROM probe_traces ORDER BY 1")
    gen = dict(q(db, "SELECT sample_id, completion_tokens FROM samples"))
    assert [r[0] for r in rows] == ["q0", "q1"]
    for sid, status, source, n, layers in rows:
        assert status == "ok" and source == "stored" and n == gen[sid] and layers == [0, 2]
