"""Regenerate the README's generated sections (schema reference, CLI reference) from the code."""

from __future__ import annotations

import io
import re
import sys
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.cli import build_parser  # noqa: E402
from workbench.store.schema_docs import markdown  # noqa: E402


def put(text: str, name: str, body: str) -> str:
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    i, j = text.index(start) + len(start), text.index(end)
    return text[:i] + "\n" + body.strip() + "\n" + text[j:]


def cli_reference() -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    out = ["## CLI reference", "",
           "`workbench COMMAND --help` prints every option. Exit codes: 0 ok, 1 failure (a message, "
           "no traceback), 2 usage error.", ""]
    for name, p in sub.choices.items():
        buf = io.StringIO()
        with redirect_stdout(buf):
            p.print_usage()
        usage = re.sub(r"\s+", " ", buf.getvalue().replace("usage: ", "")).strip()
        out += [f"### `workbench {name}`", "", (p.description or "").strip(), "", "```", usage, "```", ""]
    return "\n".join(out)


def settings_table() -> str:
    from workbench.config import PROJECT_ROOT, SETTINGS
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for st in SETTINGS.values():
        default = st.default.replace(str(PROJECT_ROOT) + "/", "")
        rows.append(f"| `{st.env}` | `{default}` | {st.help} |" if default else f"| `{st.env}` | (empty) | {st.help} |")
    return "\n".join(rows)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    text = put(text, "schema", "## Schema reference\n\n`workbench schema` prints this; "
               "`workbench schema --version` the store's migration level.\n\n" + markdown())
    text = put(text, "cli", cli_reference())
    text = put(text, "settings", settings_table())
    readme.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
