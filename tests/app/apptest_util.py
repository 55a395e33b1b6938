"""Helpers shared by the AppTests: open a page with query parameters, collect its text, point the
app at a store for a while."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def page(name: str, *, timeout: float = 60, **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    at.switch_page(f"pages/{name}.py")
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def all_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    parts += [s.value for s in at.subheader] + [t.value for t in at.text]
    parts += [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]
    # data reaches Markdown elements escaped (workbench.ui.safe.md_text): read it as the page shows it
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", "\n".join(str(p) for p in parts))


@contextmanager
def use_store(db: Path) -> Iterator[Path]:
    """WORKBENCH_DB points at `db` inside the block (AppTests run the app in this process)."""
    old = os.environ.get("WORKBENCH_DB")
    os.environ["WORKBENCH_DB"] = str(db)
    try:
        yield db
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_DB", None)
        else:
            os.environ["WORKBENCH_DB"] = old
