"""Clusters page (Streamlit AppTest on a real demo store, clustered for real)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.cluster import run_clustering

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "clusters.py")


@pytest.fixture(scope="module")
def clustered(app_db):
    run_clustering(app_db, runs=None, method="kmeans", k=3, seed=0)
    return app_db


def test_unclustered_store_says_how_to_cluster(tmp_path, monkeypatch):
    from workbench.demo import build_demo
    db = tmp_path / "plain.duckdb"
    build_demo(db)
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and at.info and "workbench cluster" in at.info[0].value


def test_map_table_representatives_and_links(clustered):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert {"label", "size", "accuracy", "failure mix"} <= set(table.columns)
    assert len(table) >= 3 and table["label"].str.len().min() > 0
    links = [m.value for m in at.markdown if "trace?run=" in m.value]
    assert 1 <= len(links) <= 5 and all("sample=" in v for v in links)
    # choose another cluster: its representatives change
    pick = at.selectbox(key="cluster")
    pick.set_value(pick.options and table["cluster_id"].iloc[-1]).run()
    links2 = [m.value for m in at.markdown if "trace?run=" in m.value]
    assert links2 and links2 != links


def test_report_download(clustered):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.button(key="clusters_report_prepare").click().run()
    assert not at.exception and not at.error
    assert at.get("download_button"), "the download button appears once the report is prepared"
