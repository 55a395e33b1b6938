"""Start the Streamlit server for app.py (used by `workbench app`).

Why not plain `streamlit run`: with a `pages/` folder beside app.py, Streamlit starts in its legacy
multipage mode and stays there for the whole process if the first request is a deep link
(e.g. /trace?run=..&sample=..), running the page file without app.py's st.navigation (wrong
sidebar, no shared chrome). Setting the flag st.navigation itself sets, before the server starts,
makes every request go through app.py.
"""

from __future__ import annotations

import sys


def main() -> None:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli as stcli

    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", *sys.argv[1:]]
    sys.exit(stcli.main())


if __name__ == "__main__":
    main()
