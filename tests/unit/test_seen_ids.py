"""The staged import's filter of ids it staged (store.staging.SeenIds): "no" must be certain (a miss would
skip the checks that keep repeated and replaced rows right); "maybe" should be rare for new ids."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from workbench.store.staging import SeenIds, _id_hashes


def hashes(con: duckdb.DuckDBPyConnection, run: str, ids: list[str]):
    con.register("_ids", pa.table({"r": [run] * len(ids), "i": ids}))
    try:
        return _id_hashes(con, "SELECT r, i FROM _ids", [])
    finally:
        con.unregister("_ids")


def test_staged_ids_are_always_found_and_new_ones_rarely_mistaken():
    con = duckdb.connect()
    seen = SeenIds()
    staged = [f"s{i}" for i in range(200_000)]
    for i in range(0, len(staged), 5000):          # batch by batch, as an import adds them
        seen.add(hashes(con, "run", staged[i:i + 5000]))
    assert all(seen.any_of(hashes(con, "run", [s])) for s in staged[::997])   # one each: no false negative
    assert seen.any_of(hashes(con, "run", ["new-1", "new-2", staged[123_456]]))
    fresh = [f"n{i}" for i in range(5000)]
    assert not seen.any_of(hashes(con, "run", fresh))          # a batch of new ids takes the fast path
    assert not seen.any_of(hashes(con, "other run", staged[:5000]))   # the same ids in another run are new
    assert not seen.any_of(hashes(con, "run", []))
    # the hashes are DuckDB's, the same in another connection (a resumed import rebuilds the filter)
    other = duckdb.connect()
    assert (hashes(other, "run", staged[:100]) == hashes(con, "run", staged[:100])).all()
