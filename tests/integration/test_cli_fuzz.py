"""Every CLI command on a matrix of odd stores and inputs: exit code 0, 1 or 2, never a traceback.

Commands run in-process through `workbench.cli.main` (an uncaught exception fails the test with its
traceback); stderr is checked for tracebacks too. A new command must be added to ARGS (a test says so).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from odd_stores import build_odd_stores

from workbench.cli import build_parser, main


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    return build_odd_stores(tmp_path_factory.mktemp("fuzz"))


def _args(command: str, db: Path, tmp: Path) -> list[list[str]]:
    d = ["--db", str(db)]
    return {
        "analyze": [["analyze", *d, "--workers", "1"], ["analyze", *d, "--run", "nope"],
                    ["analyze", *d, "--detectors", "nope"]],
        "app": [],   # starts a server: covered by the browser tests
        "cluster": [["cluster", *d, "--method", "kmeans", "--k", "2"], ["cluster", *d, "--run", "odd"],
                    ["cluster", *d, "--unit", "sample", "--method", "kmeans", "--k", "50"]],
        "demo": [],  # writes the demo into the store: covered by tests of its own
        "export": [["export", w, *d, "--format", f, "--out", str(tmp / f"x.{f}")]
                   for w in ("flags", "steps", "samples") for f in ("csv", "jsonl", "parquet")]
                  + [["export", "flags", *d, "--format", "csv", "--out", str(tmp / "y.csv"), "--filter", "nonsense("],
                     ["export", "samples", *d, "--format", "csv", "--out", str(tmp / "z.csv"), "--run", "nope"]],
        "export-parquet": [["export-parquet", *d, str(tmp / "pq")],
                           ["export-parquet", *d, "--run", "nope", str(tmp / "pq2")],
                           ["export-parquet", *d, "--tables", "nope", str(tmp / "pq3")]],
        "import": [["import", *d, str(tmp / "missing.jsonl")], ["import", *d, str(tmp)]],
        "plan": [["plan", "--gpus", "1", "--gpu-memory", "1GiB"], ["plan", "--gpus", "0", "--gpu-memory", "x"]],
        "probe": [["probe", *d, "--model", str(tmp / "no-model")], ["probe", *d, "--run", "nope", "--model", "x"]],
        "report": [["report", *d, "--run", r, "--format", f, "--out", str(tmp / f"r.{f}")]
                   for r in ("odd", "nope") for f in ("md", "html")],
        "run": [["run", *d, "--model", str(tmp / "no-model"), "--data", str(tmp / "missing.jsonl")]],
        "runs": [["runs", *d], ["runs", *d, "--format", "json"], ["runs", "rename", "nope", "x", *d],
                 ["runs", "delete", "nope", "--yes", *d], ["runs", "merge", "nope", "--into", "x", *d],
                 ["runs", "rename", "odd", "odd renamed", *d], ["runs", "rename", "odd renamed", "odd", *d]],
        "score": [["score", *d], ["score", *d, "--run", "nope"], ["score", *d, "--format", "json"]],
        "schema": [["schema", *d, "--version"]],
        "sql": [["sql", *d, "SELECT count(*) FROM samples"], ["sql", *d, "DROP TABLE samples"], ["sql", *d, ""],
                ["sql", *d, "SELECT * FROM nope"]],
        "tiny-model": [],   # builds a model: covered by the model tests
    }.get(command, [None])


def _commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)


def test_every_command_has_fuzz_cases(tmp_path):
    missing = [c for c in _commands() if _args(c, tmp_path / "x.duckdb", tmp_path) == [None]]
    assert not missing, f"add these commands to ARGS in {__file__}: {missing}"


@pytest.mark.parametrize("kind", ["empty", "one-unanalysed", "no-grades-no-images", "long-and-odd-ids"])
def test_commands_on_odd_stores(stores, kind, tmp_path, capsys):
    db = stores[kind]
    for command in _commands():
        for argv in _args(command, db, tmp_path) or []:
            if argv is None:
                continue
            try:
                code = main(argv)
            except SystemExit as exc:   # argparse usage errors
                code = exc.code
            err = capsys.readouterr().err
            assert code in (0, 1, 2), (argv, code, err)
            assert "Traceback" not in err, (argv, err)


@pytest.mark.parametrize("content", [
    b"", b"\n\n", b"{", b"[1, 2]", b'{"id": 1}\n', b'{"response": "no id"}\n', b"\xff\xfe\x00",
    b'{"id": "a", "response": "x", "correct": "maybe"}\n', b'{"id": "a", "response": {"nested": true}}\n',
])
@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_import_of_odd_files(tmp_path, capsys, content, suffix):
    db = tmp_path / "s.duckdb"
    path = tmp_path / f"odd{suffix}"
    path.write_bytes(content)
    try:
        code = main(["import", "--db", str(db), str(path)])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err, (content, code, err)
    if code != 0:
        assert str(path.name) in err   # the error names the file



@pytest.mark.parametrize("content", [b'{"id": "\\ud800", "response": "lone surrogate"}\n',
                                     b'{"id": "a", "subset": "\\udfff", "response": "x"}\n',
                                     b'{"id": "a", "response": "x", "prompt_tokens": 1e30}\n',
                                     b'{"id": "a", "response": "x", "completion_tokens": Infinity}\n',
                                     b'id,response\n1,"unterminated\n2,next row\n'])
def test_import_of_odd_values(tmp_path, capsys, content):
    test_import_of_odd_files(tmp_path, capsys, content, ".csv" if content.startswith(b"id,") else ".jsonl")
