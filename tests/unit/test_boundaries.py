"""One source of truth: no SQL text outside workbench/store/ (the SQL console's examples aside)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# SQL is written in capitals here
SQL = re.compile(r"\b(SELECT\s+[\w*(]|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+"
                 r"(OR\s+REPLACE\s+)?(TEMP\s+)?TABLE|ALTER\s+TABLE|DROP\s+TABLE|WITH\s+\w+\s+AS\s*\()")
# The SQL console's own example queries and help texts are SQL by design (issue 11).
ALLOWED = {"workbench/ui/sql_console.py", "pages/sql.py", "workbench/commands/sql.py"}
PENDING: set[str] = set()   # modules still waiting to move their SQL into store/ (none left)


def sql_strings(path: Path) -> list[tuple[int, str]]:
    found = []
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    for tok in tokens:
        if tok.type != tokenize.STRING or not SQL.search(tok.string):
            continue
        triple = tok.string.startswith(('"""', "'''"))
        # a triple-quoted string is SQL unless it is a docstring-like prose block (no FROM clause)
        if not triple or re.search(r"\bFROM\s+\w+", tok.string):
            found.append((tok.start[0], tok.string[:80]))
    return found


def test_no_sql_outside_the_store():
    offenders = []
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "workbench").rglob("*.py"))]:
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("workbench/store/") or rel in ALLOWED or rel in PENDING:
            continue
        offenders += [f"{rel}:{line}: {text}" for line, text in sql_strings(path)]
    assert not offenders, "SQL belongs in workbench/store/:\n" + "\n".join(offenders)


def test_the_check_sees_sql():
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write('q = "SELECT run_id FROM runs"\nr = f"DELETE FROM flags WHERE x"\n')
    assert len(sql_strings(Path(f.name))) == 2
