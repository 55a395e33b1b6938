"""Tags and notes researchers put on a sample or one of its steps."""

from __future__ import annotations

import duckdb

TAGS = "SELECT tag_id, step_index, tag, note, created_at FROM tags WHERE run_id = ? AND sample_id = ? ORDER BY tag_id"


def add_tag(con: duckdb.DuckDBPyConnection, run_id: str, sample_id: str, step_index: int | None,
            tag: str | None, note: str | None) -> None:
    con.execute("INSERT INTO tags (run_id, sample_id, step_index, tag, note) VALUES (?, ?, ?, ?, ?)",
                [run_id, sample_id, step_index, tag, note])


def delete_tag(con: duckdb.DuckDBPyConnection, tag_id: int, run_id: str, sample_id: str) -> None:
    con.execute("DELETE FROM tags WHERE tag_id = ? AND run_id = ? AND sample_id = ?", [tag_id, run_id, sample_id])

# Tag names used in the given runs (for the tag filters).
TAG_NAMES = """SELECT DISTINCT tag FROM tags WHERE tag IS NOT NULL AND run_id IN (SELECT unnest(?::VARCHAR[]))
               ORDER BY tag"""
