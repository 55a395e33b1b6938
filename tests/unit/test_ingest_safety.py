"""Import hardening and no silent loss: bad inputs give file:line errors and change nothing; images are
read safely; repeated ids, ids from line numbers, other-source overwrites, --update, --dry-run."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import InputError
from workbench.ingest import import_paths
from workbench.store import connect


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def q(db, sql, params=()):
    with connect(db) as con:
        return con.execute(sql, list(params)).fetchall()


def store_snapshot(db):
    return q(db, "SELECT run_id, sample_id, content_hash FROM samples ORDER BY 1, 2") + \
        q(db, "SELECT run_id, n_samples FROM runs ORDER BY 1")


@pytest.fixture
def seeded(tmp_path, tmp_db):
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": "a", "response": "r1"}, {"id": "b", "response": "r2"}])
    import_paths([good], tmp_db, progress=False)
    return tmp_db, store_snapshot(tmp_db)


@pytest.mark.parametrize("content, message", [
    (b'{"id": "a", "response": "x", "prompt_tokens": 1e30}\n', r"bad\.jsonl:1: field 'prompt_tokens' must be a whole"),
    (b'{"id": "a", "response": "x", "completion_tokens": Infinity}\n', r"bad\.jsonl:1: field 'completion_tokens'"),
    (b'{"id": "a", "response": "x", "prompt_tokens": -3}\n', r"bad\.jsonl:1: field 'prompt_tokens'"),
    (b'{"id": "a\\ud800", "response": "x"}\n', r"bad\.jsonl:1: field 'sample_id' contains an unpaired surrogate"),
    (b'{"id": "a", "subset": "s\\udc00", "response": "x"}\n', r"bad\.jsonl:1: sample 'a': field 'subset'"),
    (b'', r"bad\.jsonl:1: the file holds no records"),
    (b'\n\n  \n', r"bad\.jsonl:1: the file holds no records"),
])
def test_bad_values_give_file_line_and_change_nothing(tmp_path, seeded, content, message):
    db, before = seeded
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=message):
        import_paths([bad], db, progress=False)
    assert store_snapshot(db) == before


def test_csv_unterminated_quote_is_an_error_not_a_swallowed_row(tmp_path, seeded):
    db, before = seeded
    bad = tmp_path / "bad.csv"
    bad.write_text('id,response\n1,"fine"\n2,"never closed\n3,next row\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.csv:3: malformed CSV: .*unterminated quote"):
        import_paths([bad], db, progress=False)
    assert store_snapshot(db) == before
    # a quoted multi-line field that IS closed is fine
    ok = tmp_path / "ok.csv"
    ok.write_text('id,response\n1,"two\nlines"\n2,plain\n', encoding="utf-8")
    import_paths([ok], db, progress=False)
    assert q(db, "SELECT sample_id, response, source_line FROM samples WHERE run_id = 'ok' ORDER BY 1") == \
        [("1", "two\nlines", 2), ("2", "plain", 4)]


def test_empty_json_array_and_fifo_input(tmp_path, seeded):
    db, before = seeded
    (tmp_path / "e.json").write_text("[]", encoding="utf-8")
    with pytest.raises(InputError, match=r"e\.json:1: the file holds no records"):
        import_paths([tmp_path / "e.json"], db, progress=False)
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        import_paths([fifo], db, progress=False)
    assert store_snapshot(db) == before


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (the pixel data is a tiny valid stream)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def test_unsafe_image_references_are_kept_as_missing(tmp_path, tmp_db):
    (tmp_path / "huge.png").write_bytes(_png_header_only(15000, 15000))   # 225 megapixels
    os.mkfifo(tmp_path / "fifo.png")
    path = write_jsonl(tmp_path / "img.jsonl", [
        {"id": "zero", "response": "r", "image": "/dev/zero"},
        {"id": "fifo", "response": "r", "image": str(tmp_path / "fifo.png")},
        {"id": "huge", "response": "r", "image": "huge.png"},
        {"id": "dir", "response": "r", "image": str(tmp_path)},
    ])
    s = import_paths([path], tmp_db, progress=False)   # returns: no hang, no MemoryError, no traceback
    assert s.images_missing == 4 and s.images_stored == 0
    warning = next(w for w in s.warnings if "could not be read" in w)
    assert "/dev/zero (not a regular file)" in warning
    rows = q(tmp_db, "SELECT s.sample_id, i.missing FROM samples s JOIN images i ON i.image_id = s.image_ids[1] "
                     "ORDER BY 1")
    assert rows == [("dir", True), ("fifo", True), ("huge", True), ("zero", True)]


def test_ids_from_line_numbers_and_repeated_ids(tmp_path, tmp_db):
    no_id = write_jsonl(tmp_path / "noid.jsonl", [{"response": "first"}, {"response": "second"}])
    s = import_paths([no_id], tmp_db, progress=False)
    assert s.files[0].counts["ids_from_lines"] == 2
    assert any("sample ids are the line numbers" in n for n in s.files[0].notes)
    assert q(tmp_db, "SELECT sample_id, source_id, response FROM samples ORDER BY 1") == \
        [("1", "1", "first"), ("2", "2", "second")]

    rep = write_jsonl(tmp_path / "rep.jsonl", [
        {"id": "x", "response": "one"}, {"id": "x", "response": "one"},      # identical: stored once
        {"id": "x", "response": "two"}, {"id": "y", "response": "y"}, {"id": "x", "response": "three"}])
    s = import_paths([rep], tmp_db, progress=False)
    c = s.files[0].counts
    assert (c["total"], c["identical_repeats"], c["kept_apart"]) == (4, 1, 2)
    assert any("'x' repeats an earlier row with other content: kept apart as 'x#2'" in n for n in s.files[0].notes)
    assert q(tmp_db, "SELECT sample_id, source_id, response, source_line FROM samples WHERE run_id = 'rep' "
                     "ORDER BY source_line") == \
        [("x", "x", "one", 1), ("x#2", "x", "two", 3), ("y", "y", "y", 4), ("x#3", "x", "three", 5)]
    again = import_paths([rep], tmp_db, progress=False)  # idempotent, ids stable
    assert (again.files[0].counts["unchanged"], again.files[0].counts["new"]) == (4, 0)


def test_repeated_ids_across_batches(tmp_path, tmp_db, monkeypatch):
    from workbench.ingest import readers
    monkeypatch.setattr(readers, "BATCH_ROWS", 2)
    monkeypatch.setattr(readers, "HEAD_ROWS", 2)
    rows = [{"id": "a", "response": "1"}, {"id": "b", "response": "1"}, {"id": "a", "response": "1"},
            {"id": "a", "response": "2"}, {"id": "b", "response": "3"}]
    s = import_paths([write_jsonl(tmp_path / "x.jsonl", rows)], tmp_db, progress=False)
    assert q(tmp_db, "SELECT sample_id, response FROM samples ORDER BY source_line") == \
        [("a", "1"), ("b", "1"), ("a#2", "2"), ("b#2", "3")]
    assert s.files[0].counts["identical_repeats"] == 1


def test_other_source_is_refused_unless_update(tmp_path, tmp_db):
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "response": "from a"}, {"id": "2", "response": "same"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "1", "response": "from b"}, {"id": "2", "response": "same"}])
    import_paths([a], tmp_db, run="both", progress=False)
    before = store_snapshot(tmp_db)
    with pytest.raises(InputError, match=r"b\.jsonl:1: sample '1': run 'both' already holds this sample from "
                                         r"another source \(a\.jsonl\).*--update"):
        import_paths([b], tmp_db, run="both", progress=False)
    assert store_snapshot(tmp_db) == before
    # the same file from another folder is the same source: re-importing it is fine
    moved = tmp_path / "moved"
    moved.mkdir()
    write_jsonl(moved / "a.jsonl", [{"id": "1", "response": "from a, edited"}, {"id": "2", "response": "same"}])
    s = import_paths([moved / "a.jsonl"], tmp_db, run="both", progress=False)
    assert s.files[0].counts["changed"] == 1
    s = import_paths([b], tmp_db, run="both", update=True, progress=False)
    assert (s.files[0].counts["changed"], s.files[0].counts["unchanged"]) == (1, 1)
    assert q(tmp_db, "SELECT response, source_key FROM samples WHERE sample_id = '1'") == [("from b", "b.jsonl")]


def test_run_option_over_task_files_keeps_tasks_apart(tmp_path, tmp_db):
    folder = tmp_path / "org__model"
    folder.mkdir()
    for task in ("mme", "pope"):
        write_jsonl(folder / f"20250101_120000_samples_{task}.jsonl",
                    [{"doc_id": i, "target": "yes", "input": f"{task} q{i}", "filtered_resps": ["yes"]}
                     for i in range(3)])
    s = import_paths(sorted(folder.glob("*.jsonl")), tmp_db, run="all tasks", progress=False)
    assert [f.counts["new"] for f in s.files] == [3, 3]
    assert q(tmp_db, "SELECT sample_id, source_id, benchmark FROM samples ORDER BY 1")[:2] == \
        [("mme/0", "0", "mme"), ("mme/1", "1", "mme")]
    assert q(tmp_db, "SELECT n_samples FROM runs") == [(6,)]


def test_dry_run_writes_nothing(tmp_path, tmp_db, capsys):
    path = write_jsonl(tmp_path / "d.jsonl", [{"qid": "7", "prompt": "Q?", "output": "trace", "gold": "B"}])
    assert main(["import", str(path), "--db", str(tmp_db), "--dry-run", "--map", "id=qid", "--map",
                 "answer=gold"]) == 0
    out = capsys.readouterr().out
    assert "format generic (jsonl)" in out and "sample_id          <- qid (--map)" in out
    assert '"trace"' in out and "1 new" in out and "nothing was written" in out
    assert not tmp_db.exists()


def test_map_nested_paths_and_string_grades(tmp_path, tmp_db):
    path = write_jsonl(tmp_path / "m.jsonl", [
        {"id": "1", "response": "r", "judge": {"verdict": "True"}, "scores": [1]},
        {"id": "2", "response": "r", "judge": {"verdict": "False"}, "scores": [0]}])
    import_paths([path], tmp_db, mapping={"correct": "judge.verdict"}, progress=False)
    assert q(tmp_db, "SELECT sample_id, correct FROM samples ORDER BY 1") == [("1", True), ("2", False)]
    import_paths([path], tmp_db, run="by list", mapping={"correct": "scores[0]"}, progress=False)
    assert q(tmp_db, "SELECT sample_id, correct FROM samples WHERE run_id = 'by-list' ORDER BY 1") == \
        [("1", True), ("2", False)]
    with pytest.raises(InputError, match=r"m\.jsonl:1: --map correct=nope\.x: the record has no field"):
        import_paths([path], tmp_db, run="bad", mapping={"correct": "nope.x"}, progress=False)


def test_thinking_and_one_element_list_responses(tmp_path, tmp_db):
    path = write_jsonl(tmp_path / "t.jsonl", [
        {"id": "1", "thinking": "long reasoning", "response": "B"},
        {"id": "2", "response": ["only trace"]}])
    import_paths([path], tmp_db, progress=False)
    assert q(tmp_db, "SELECT sample_id, response, final_answer FROM samples ORDER BY 1") == \
        [("1", "long reasoning", "B"), ("2", "only trace", None)]


def test_models_side_by_side_become_one_run_each(tmp_path, tmp_db):
    (tmp_path / "cmp.csv").write_text("id,question,response_gpt-4o,response_qwen2.5-vl\n1,Q,A says,B says\n",
                                      encoding="utf-8")
    s = import_paths([tmp_path / "cmp.csv"], tmp_db, progress=False)
    assert s.run_ids == ["cmp-gpt-4o", "cmp-qwen2.5-vl"]
    assert q(tmp_db, "SELECT run_id, model, response FROM samples ORDER BY 1") == \
        [("cmp-gpt-4o", "gpt-4o", "A says"), ("cmp-qwen2.5-vl", "qwen2.5-vl", "B says")]


def test_summary_table_is_refused_with_a_message(tmp_path, tmp_db):
    (tmp_path / "summary.csv").write_text("model,direct,cot\ngpt-4o,0.5,0.6\n", encoding="utf-8")
    with pytest.raises(InputError, match="looks like a summary table"):
        import_paths([tmp_path / "summary.csv"], tmp_db, progress=False)


def test_grade_like_fields_that_are_not_grades_stay_metadata(tmp_path, tmp_db):
    path = write_jsonl(tmp_path / "h.jsonl", [{"id": "1", "response": "r", "hit": 0.6},
                                              {"id": "2", "response": "r", "hit": 1}])
    import_paths([path], tmp_db, progress=False)
    rows = q(tmp_db, "SELECT sample_id, correct, metadata FROM samples ORDER BY 1")
    assert [(r[0], r[1]) for r in rows] == [("1", None), ("2", True)]
    assert json.loads(rows[0][2]) == {"hit": 0.6}


def test_json_object_with_one_list_of_records(tmp_path, tmp_db):
    (tmp_path / "run.json").write_text(json.dumps({"model": "m", "accuracy": 0.5, "items": [
        {"id": "a", "response": "x"}, {"id": "b", "response": "y"}]}), encoding="utf-8")
    import_paths([tmp_path / "run.json"], tmp_db, progress=False)
    assert q(tmp_db, "SELECT sample_id, source_line FROM samples ORDER BY 1") == [("a", 1), ("b", 2)]


def test_error_in_a_late_batch_rolls_back_the_earlier_batches(tmp_path, seeded, monkeypatch):
    from workbench.ingest import readers
    monkeypatch.setattr(readers, "BATCH_ROWS", 2)
    monkeypatch.setattr(readers, "HEAD_ROWS", 2)
    db, before = seeded
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps({"id": f"n{i}", "response": "ok"}) + "\n" for i in range(6))
                    + '{"id": "bad", "response": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"late\.jsonl:7: malformed JSON"):
        import_paths([path], db, progress=False)
    assert store_snapshot(db) == before
