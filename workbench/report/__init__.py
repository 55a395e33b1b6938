"""Failure reports (`workbench report`): a run's summary, flag rates, clusters and selected failures as
one self-contained HTML file or Markdown with images next to it. Pure renderers in render.py."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import UsageError
from workbench.report.data import load_report
from workbench.report.render import render_html, render_markdown

FORMATS = ("html", "md")


def write_report(db: str | os.PathLike | None, run: str, out: Path, fmt: str, *, where: str | None = None,
                 max_failures: int = 20) -> Path:
    """Write the report to `out` (atomically); Markdown images go to `<out stem>_files/`."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown report format {fmt!r}: html or md")
    data = load_report(db, run, where=where, max_failures=max_failures)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        text = render_html(data)
    else:
        folder = out.stem + "_files"
        text, files = render_markdown(data, folder)
        for name, blob in files.items():
            (out.parent / folder).mkdir(exist_ok=True)
            (out.parent / folder / name).write_bytes(blob)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
