"""The README stays true: settings and the schema reference come from the code's registries."""

from __future__ import annotations

from pathlib import Path

from workbench.cli import build_parser
from workbench.config import SETTINGS
from workbench.store.schema_docs import markdown

README_PATH = Path(__file__).resolve().parents[2] / "README.md"
README = README_PATH.read_text(encoding="utf-8")


def test_every_setting_is_documented():
    # regenerate with: .venv/bin/python scripts/update_readme.py
    import importlib.util
    spec = importlib.util.spec_from_file_location("update_readme", README_PATH.parent / "scripts" / "update_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.settings_table() in README
    for s in SETTINGS.values():
        assert f"`{s.env}`" in README, f"{s.env} missing from README settings table"


def test_schema_reference_matches_code():
    # regenerate with: .venv/bin/python scripts/update_readme.py
    assert markdown().strip() in README


def test_every_command_is_in_cli_reference():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:
        assert f"workbench {name}" in README, f"`workbench {name}` missing from README"


def test_readme_opens_with_the_two_commands():
    head = README.split("<!-- section:contents -->")[0]
    assert "make app" in head and "make test" in head
