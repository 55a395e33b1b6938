"""Streamlit entry: `workbench app` (or `streamlit run app.py`). Routes to the pages in pages/.

Pages are thin: widgets and layout only; data comes from workbench.ui (cached, store-aware) and
HTML/figures from workbench.viz. Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# The page icon is a file of the project: a ":material/...:" icon here makes every page fetch the
# favicon from an external font host (Streamlit builds that URL), and nothing may leave the machine.
ICON = Path(__file__).parent / "workbench" / "ui" / "static" / "icon.png"
st.set_page_config(page_title="QVQ trace workbench", page_icon=str(ICON), layout="wide")

PAGES_DIR = Path(__file__).parent / "pages"
# (file, title, icon, url path). A page file that does not exist yet is skipped.
PAGE_SPECS = [
    ("overview.py", "Overview", ":material/monitoring:", "overview"),
    ("traces.py", "Traces", ":material/list:", "traces"),
    ("trace.py", "Trace view", ":material/article:", "trace"),
    ("compare.py", "Compare", ":material/compare:", "compare"),
    ("failures.py", "Failures", ":material/flag:", "failures"),
    ("clusters.py", "Clusters", ":material/hub:", "clusters"),
    ("sql.py", "SQL", ":material/database:", "sql"),
    ("run.py", "Run model", ":material/rocket_launch:", "run"),
]

pages = [st.Page(str(PAGES_DIR / f), title=t, icon=i, url_path=u, default=(u == "overview"))
         for f, t, i, u in PAGE_SPECS if (PAGES_DIR / f).exists()]
nav = st.navigation(pages)
from workbench.ui.shell import sidebar_footer  # noqa: E402

sidebar_footer()
nav.run()
