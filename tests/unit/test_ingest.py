"""Importers: every format, malformed input, missing images, idempotent re-import, gz, --map."""

from __future__ import annotations

import base64
import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from workbench.cli import main
from workbench.errors import InputError
from workbench.ingest import import_paths
from workbench.store import connect


def png_bytes(color=(255, 0, 0), size=(8, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def q(db, sql, params=()):
    with connect(db) as con:
        return con.execute(sql, list(params)).fetchall()


ROWS = [
    {"id": "a", "question": "Q1?", "response": "Let me think.\n\nThe answer is B.", "answer": "B",
     "model": "m1", "temperature": 0.7, "image": "img/red.png"},
    {"id": 2, "question": "Q2?", "response": "Trace two", "ground_truth": "4", "correct": "false",
     "images": ["img/red.png", "img/blue.png"], "extra": {"nested": [1, 2]}},
]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "red.png").write_bytes(png_bytes((255, 0, 0)))
    (tmp_path / "img" / "blue.png").write_bytes(png_bytes((0, 0, 255), (10, 4)))
    return tmp_path


def test_generic_jsonl(files, tmp_db):
    path = write_jsonl(files / "run1.jsonl", ROWS)
    s = import_paths([path], tmp_db)
    assert s.run_ids == ["run1"]
    rows = q(tmp_db, "SELECT sample_id, question, response, ground_truth, correct, model, n_images, metadata, "
                     "source_line FROM samples ORDER BY sample_id")
    assert rows[0][0] == "2" and rows[1][0] == "a"
    assert rows[1][2] == ROWS[0]["response"]  # raw trace kept verbatim
    assert rows[1][3] == "B" and rows[0][3] == "4"
    assert rows[0][4] is False and rows[1][4] is None
    assert rows[0][6] == 2 and rows[1][6] == 1
    assert json.loads(rows[1][7]) == {"temperature": 0.7}
    assert json.loads(rows[0][7]) == {"extra": {"nested": [1, 2]}}
    assert rows[1][8] == 1 and rows[0][8] == 2
    # the red image is stored once, with its size
    imgs = q(tmp_db, "SELECT width, height, format, missing FROM images ORDER BY width")
    assert imgs == [(8, 6, "PNG", False), (10, 4, "PNG", False)]
    assert q(tmp_db, "SELECT count(*) FROM image_blobs") == [(2,)]


def test_reimport_is_idempotent_and_updates_changed_rows(files, tmp_db):
    path = write_jsonl(files / "r.jsonl", ROWS)
    import_paths([path], tmp_db)
    first = q(tmp_db, "SELECT sample_id, updated_at FROM samples ORDER BY 1")
    s = import_paths([path], tmp_db)
    assert {k: s.files[0].counts[k] for k in ("total", "new", "changed", "unchanged")} == \
        {"total": 2, "new": 0, "changed": 0, "unchanged": 2}
    assert q(tmp_db, "SELECT sample_id, updated_at FROM samples ORDER BY 1") == first
    changed = [dict(ROWS[0], response="A different trace"), ROWS[1]]
    write_jsonl(path, changed)
    s = import_paths([path], tmp_db)
    assert s.files[0].counts["changed"] == 1
    assert q(tmp_db, "SELECT count(*), count(DISTINCT sample_id) FROM samples") == [(2, 2)]
    assert q(tmp_db, "SELECT response FROM samples WHERE sample_id = 'a'") == [("A different trace",)]
    assert q(tmp_db, "SELECT count(*) FROM images") == [(2,)]


def test_gzip_and_run_option(files, tmp_db):
    path = files / "x.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in ROWS).encode()))
    s = import_paths([path], tmp_db, run="My Run")
    assert s.run_ids == ["my-run"]
    assert q(tmp_db, "SELECT name, n_samples, n_with_image FROM runs") == [("My Run", 2, 2)]


def test_malformed_line_fails_whole_import_and_store_is_unchanged(files, tmp_db):
    good = write_jsonl(files / "good.jsonl", ROWS)
    import_paths([good], tmp_db)
    before = q(tmp_db, "SELECT * FROM samples ORDER BY sample_id")
    bad = files / "bad.jsonl"
    bad.write_text(json.dumps({"id": "z", "response": "ok"}) + "\n" + '{"id": "y", "response": "unterminated\n')
    with pytest.raises(InputError, match=r"bad\.jsonl:2: malformed JSON"):
        import_paths([good, bad], tmp_db, run="other")
    assert q(tmp_db, "SELECT * FROM samples ORDER BY sample_id") == before
    assert q(tmp_db, "SELECT run_id FROM runs") == [("good",)]


@pytest.mark.parametrize("content, message", [
    (b'{"id": "a", "response": "x"}\n{"id": "b", "response": "\xff\xfe bad"}\n', r"bad\.jsonl:2: invalid UTF-8"),
    (b'{"id": "a", "response": "lone \\ud800 surrogate"}\n', r"bad\.jsonl:1: sample 'a': .*surrogate"),
    (b'[1, 2]\n', r"bad\.jsonl:1: expected a JSON object"),
    (b'{"id": "a", "correct": "maybe"}\n', r"bad\.jsonl:1: field 'correct'"),
])
def test_bad_input_names_file_and_line(tmp_path, tmp_db, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=message):
        import_paths([bad], tmp_db)
    assert q(tmp_db, "SELECT count(*) FROM samples") == [(0,)]


def test_missing_images_warn_and_keep_sample_strict_fails(tmp_path, tmp_db):
    path = write_jsonl(tmp_path / "m.jsonl", [{"id": "a", "response": "r", "image": "nope.png"},
                                              {"id": "b", "response": "r", "image": "nope.png"}])
    s = import_paths([path], tmp_db)
    assert any("1 image reference(s) could not be read" in w for w in s.warnings)
    rows = q(tmp_db, "SELECT s.sample_id, i.missing, i.original_ref FROM samples s, images i "
                     "WHERE i.image_id = s.image_ids[1] ORDER BY 1")
    assert rows == [("a", True, "nope.png"), ("b", True, "nope.png")]
    with pytest.raises(InputError, match="--strict"):
        import_paths([path], tmp_db, run="strict", strict=True)
    assert q(tmp_db, "SELECT count(*) FROM runs WHERE run_id = 'strict'") == [(0,)]


def test_data_uri_and_image_root(tmp_path, tmp_db):
    uri = "data:image/png;base64," + base64.b64encode(png_bytes((0, 255, 0), (5, 5))).decode()
    root = tmp_path / "root"
    root.mkdir()
    (root / "p.png").write_bytes(png_bytes((1, 2, 3), (7, 7)))
    path = write_jsonl(tmp_path / "u.jsonl", [{"id": "a", "response": "r", "images": [uri, "p.png"]}])
    import_paths([path], tmp_db, image_root=root)
    assert q(tmp_db, "SELECT width FROM images ORDER BY width") == [(5,), (7,)]


def test_map_option_and_csv_tsv_parquet_json(tmp_path, tmp_db):
    (tmp_path / "a.csv").write_text("qid,prompt,output,gold\n1,What?,\"multi\nline trace\",C\n", encoding="utf-8")
    main(["import", str(tmp_path / "a.csv"), "--db", str(tmp_db), "--map", "id=qid", "--map", "answer=gold"])
    assert q(tmp_db, "SELECT sample_id, question, response, ground_truth FROM samples") == \
        [("1", "What?", "multi\nline trace", "C")]
    (tmp_path / "b.tsv").write_text("id\tquestion\tresponse\nx\tQ\tR\n", encoding="utf-8")
    pq.write_table(pa.table({"id": ["p1"], "response": ["parquet trace"], "score": [0.5]}), tmp_path / "c.parquet")
    (tmp_path / "d.json").write_text(json.dumps([{"id": "j1", "response": "json trace"}]), encoding="utf-8")
    assert main(["import", str(tmp_path / "b.tsv"), str(tmp_path / "c.parquet"), str(tmp_path / "d.json"),
                 "--db", str(tmp_db)]) == 0
    assert q(tmp_db, "SELECT run_id, sample_id, response FROM samples WHERE run_id <> 'a' ORDER BY 1") == \
        [("b", "x", "R"), ("c", "p1", "parquet trace"), ("d", "j1", "json trace")]
    assert json.loads(q(tmp_db, "SELECT metadata FROM samples WHERE run_id = 'c'")[0][0]) == {"score": 0.5}


def test_cli_errors_and_exit_codes(tmp_path, tmp_db, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n")
    assert main(["import", str(bad), "--db", str(tmp_db)]) == 1
    assert "bad.jsonl:1: malformed JSON" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "absent.jsonl"), "--db", str(tmp_db)]) == 1
    assert main(["import", str(bad), "--db", str(tmp_db), "--map", "nonsense"]) == 2


def test_vlmevalkit_tsv_and_xlsx(tmp_path, tmp_db):
    img64 = base64.b64encode(png_bytes((9, 9, 9), (12, 12))).decode()
    folder = tmp_path / "QVQ-72B-Preview"
    folder.mkdir()
    tsv = folder / "QVQ-72B-Preview_MMMU_DEV_VAL.tsv"
    tsv.write_text("index\tquestion\tA\tB\tanswer\tcategory\timage\tprediction\n"
                   f"17\tWhich?\tcat\tdog\tB\tBiology\t{img64}\tLet me think... the answer is B.\n", encoding="utf-8")
    import_paths([tsv], tmp_db)
    row = q(tmp_db, "SELECT sample_id, response, ground_truth, subset, model, benchmark, metadata, n_images "
                    "FROM samples")[0]
    assert row[:6] == ("17", "Let me think... the answer is B.", "B", "Biology", "QVQ-72B-Preview", "MMMU_DEV_VAL")
    assert json.loads(row[6]) == {"A": "cat", "B": "dog"} and row[7] == 1
    assert q(tmp_db, "SELECT width FROM images") == [(12,)]

    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["index", "question", "answer", "thinking", "prediction"])
    ws.append([1, "Q", "A", "x" * 32767, "A"])
    ws.append([2, "Q2", "C", None, "Short answer C"])
    xlsx = folder / "QVQ-72B-Preview_MathVista.xlsx"
    wb.save(xlsx)
    s = import_paths([xlsx], tmp_db)
    assert any("32767" in w and "truncated" in w for w in s.warnings)
    rows = q(tmp_db, "SELECT sample_id, length(response), final_answer FROM samples "
                     "WHERE benchmark = 'MathVista' ORDER BY 1")
    assert rows == [("1", 32767, "A"), ("2", 14, None)]


def test_lmms_eval_samples(tmp_path, tmp_db):
    path = write_jsonl(tmp_path / "20250101_samples_mmmu_val.jsonl", [
        {"doc_id": 0, "doc_hash": "h", "target": "B", "input": "<image> Question?",
         "resps": [["Long reasoning... **Final Answer** B"]], "filtered_resps": ["B"], "mmmu_acc": {"score": 1}},
        {"doc_id": 1, "target": "7", "input": "Q2", "filtered_resps": ["The answer is 7"], "exact_match": 1.0},
    ])
    import_paths([path], tmp_db)
    rows = q(tmp_db, "SELECT sample_id, question, response, final_answer, ground_truth, benchmark, metadata "
                     "FROM samples ORDER BY sample_id")
    assert rows[0][:6] == ("0", "<image> Question?", "Long reasoning... **Final Answer** B", "B", "B", "mmmu_val")
    assert json.loads(rows[0][6]) == {"doc_hash": "h", "mmmu_acc": {"score": 1}}
    assert rows[1][2:4] == ("The answer is 7", None)


@pytest.mark.realdata
def test_real_dev_set(dev_jsonl, tmp_db):
    s = import_paths([dev_jsonl], tmp_db, progress=False)
    assert s.files[0].flavour == "qvq-dev"
    assert q(tmp_db, "SELECT n_samples, n_with_image FROM runs") == [(11539, 601)]
    # MMMU images are not in the source: recorded as missing, samples kept
    assert q(tmp_db, "SELECT count(*) FROM samples WHERE n_images > 0 AND len(image_ids) = n_images") == [(601,)]
    assert q(tmp_db, "SELECT count(*) FROM images WHERE NOT missing") == [(1,)]
    # raw responses are byte-identical to the source
    first = json.loads(dev_jsonl.open(encoding="utf-8").readline())
    assert q(tmp_db, "SELECT response, final_answer FROM samples WHERE sample_id = ?", [first["id"]]) == \
        [(first["response"], first["final_answer_turn"])]
