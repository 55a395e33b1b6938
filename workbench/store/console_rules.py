"""What the SQL console may run, decided on DuckDB's own parse tree (nothing is executed here).

A statement passes when it is one of:
- a query: SELECT / WITH / VALUES / FROM-first, and SHOW / DESCRIBE / SUMMARIZE (DuckDB parses those
  as a SELECT over a SHOW_REF), whose parse tree (`json_serialize_sql`) holds only
  * tables named without a catalog or schema (the console later checks they are the store's tables,
    or CTEs of the query),
  * table functions from `TABLE_FUNCTIONS` (range, unnest, ...: no file, catalog or settings readers),
  * functions other than `DENIED_FUNCTIONS` (settings and log writers);
- EXPLAIN [ANALYZE] of such a query (rebuilt from the checked query, so `EXPLAIN ANALYZE COPY` never runs);
- PRAGMA table_info of one table, or PRAGMA show_tables (rebuilt from the checked table name).

This is an allow-list: a table reference, table function or statement kind not listed is refused.
The console's own DuckDB instance is the second wall (workbench/store/console_worker.py): it holds
copies of the store's tables only, with file access off and its settings locked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import duckdb

from workbench.errors import QueryRefused
from workbench.store.rows import one_row

TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree"})
# Scalar functions that read settings or write to DuckDB's log; everything else in DuckDB's scalar,
# aggregate and window catalogue computes on its arguments only.
DENIED_FUNCTIONS = frozenset({"current_setting", "getenv", "getvariable", "write_log", "current_query",
                              "json_execute_serialized_sql", "query", "query_table", "read_blob", "read_text"})
SHOW_SPECIAL = {'"tables"': "SHOW TABLES", "__show_tables_expanded": "SHOW ALL TABLES"}
TABLE_REFS = frozenset({"BASE_TABLE", "JOIN", "SUBQUERY", "TABLE_FUNCTION", "EXPRESSION_LIST", "EMPTY",
                        "PIVOT", "SHOW_REF"})
MAX_DEPTH = 250  # DuckDB's max_expression_depth while parsing: deeper queries are refused, not crashed on

ALLOWED_TEXT = ("only SELECT / WITH queries over the store's tables, EXPLAIN of them, SHOW / DESCRIBE / "
                "SUMMARIZE and PRAGMA table_info")
_EXPLAIN = re.compile(r"^\s*explain\s+(analy[sz]e\s+)?", re.IGNORECASE)
_PRAGMA = re.compile(r"""^\s*pragma\s+(table_info)\s*\(\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2\s*\)\s*;?\s*$""",
                     re.IGNORECASE)
_PRAGMA_TABLES = re.compile(r"^\s*pragma\s+show_tables\s*;?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Checked:
    """A statement that passed: what to run and which store tables it needs."""
    sql: str
    data_tables: frozenset[str]     # tables whose rows it reads (lower-case names)
    schema_tables: frozenset[str]   # tables it only describes (their columns, no rows needed)
    columns: frozenset[str] | None = None   # the only columns it can read (lower-case); None: all of them


def parser() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB used only to parse (no store, no files, settings locked)."""
    con = duckdb.connect(":memory:", config={
        "enable_external_access": False, "autoload_known_extensions": False,
        "autoinstall_known_extensions": False})
    con.execute(f"SET max_expression_depth = {MAX_DEPTH}")
    con.execute("SET lock_configuration = true")
    return con


def _one_statement(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QueryRefused(f"the query is not valid text: an unpaired surrogate at character {exc.start + 1}") \
            from None
    try:
        statements = con.extract_statements(sql)
        for st in statements:
            st.type  # noqa: B018 - raises ValueError for kinds the client cannot name
    except duckdb.Error as exc:
        raise QueryRefused(readable_error(exc)) from None
    except ValueError:
        # DuckDB parsed a statement kind its Python client has no name for (e.g. UPDATE EXTENSIONS)
        raise QueryRefused(f"the console is read-only: this kind of statement is not allowed ({ALLOWED_TEXT})") \
            from None
    if not statements:
        raise QueryRefused("the query is empty: write one SELECT statement")
    if len(statements) > 1:
        raise QueryRefused("only one statement at a time: remove the extra ';'-separated statements")
    return statements[0]


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> Checked:
    """Refuse (QueryRefused, one readable message) anything but a read-only query; see the module doc."""
    if len(sql) > 100_000:
        raise QueryRefused("the query is longer than 100,000 characters")
    st = _one_statement(con, sql)
    if st.type == duckdb.StatementType.SELECT:
        data, schema = _check_select(con, st.query)
        return Checked(st.query, data, schema, _columns(con, st.query))
    if st.type == duckdb.StatementType.EXPLAIN:
        m = _EXPLAIN.match(st.query)
        inner = _one_statement(con, st.query[m.end():]) if m else None
        if m is None or inner is None or inner.type != duckdb.StatementType.SELECT:
            raise QueryRefused(f"EXPLAIN is allowed only in front of a query ({ALLOWED_TEXT})")
        data, schema = _check_select(con, inner.query)
        if not m.group(1):  # plain EXPLAIN plans only: the tables' columns suffice
            data, schema = frozenset(), data | schema
        return Checked(f"EXPLAIN {'ANALYZE ' if m.group(1) else ''}{inner.query}", data, schema,
                       _columns(con, inner.query))
    if st.type == duckdb.StatementType.PRAGMA:
        m = _PRAGMA.match(st.query)
        if m:
            return Checked(f"PRAGMA {m.group(1).lower()}('{m.group(3)}')", frozenset(),
                           frozenset({m.group(3).lower()}))
        if _PRAGMA_TABLES.match(st.query):
            return Checked("PRAGMA show_tables", frozenset(), frozenset())
        raise QueryRefused(f"this PRAGMA is not allowed: the console runs PRAGMA table_info('table') and "
                           f"PRAGMA show_tables only ({ALLOWED_TEXT})")
    kind = str(st.type).split(".")[-1]
    raise QueryRefused(f"the console is read-only: {kind} statements are not allowed ({ALLOWED_TEXT})")


def _tree(con: duckdb.DuckDBPyConnection, sql: str) -> dict:
    try:
        text = one_row(con.execute("SELECT json_serialize_sql(?)", [sql]))[0]
        tree = json.loads(text)
    except RecursionError:
        raise QueryRefused(f"the query is nested too deeply (more than {MAX_DEPTH} levels)") from None
    except duckdb.Error as exc:
        raise QueryRefused(readable_error(exc)) from None
    if tree.get("error"):
        raise QueryRefused(readable_error(Exception(f"{tree.get('error_type', 'parser').title()} Error: "
                                                    f"{tree.get('error_message', '')}")))
    if len(tree.get("statements", [])) != 1:
        raise QueryRefused("only one statement at a time")
    node: dict = tree["statements"][0]["node"]
    return node


def _check_select(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[frozenset[str], frozenset[str]]:
    """Walk a SELECT's parse tree; return (tables read, tables only described), refusing what is not allowed."""
    data: set[str] = set()
    schema: set[str] = set()
    # (node, CTE names in scope, inside DESCRIBE: only the columns are needed)
    stack: list[tuple[object, frozenset[str], bool]] = [(_tree(con, sql), frozenset(), False)]
    while stack:
        node, scope, describe_only = stack.pop()
        if isinstance(node, list):
            stack.extend((x, scope, describe_only) for x in node)
            continue
        if not isinstance(node, dict):
            continue
        skip: set[str] = set()
        if "cte_map" in node:  # a query node: its CTEs are visible inside it
            names = {e["key"].lower() for e in node["cte_map"].get("map", [])}
            if node.get("type") == "RECURSIVE_CTE_NODE":
                names.add(str(node.get("cte_name", "")).lower())
            scope = scope | names
        elif "class" in node:  # an expression
            name = str(node.get("function_name", "")).lower()
            if name in DENIED_FUNCTIONS:
                raise QueryRefused(f"the function {name}() is not allowed in the console")
        elif {"alias", "sample"} <= node.keys():  # a table reference
            _check_table_ref(node, scope, describe_only, data, schema)
            if node["type"] == "TABLE_FUNCTION":
                fn = node.get("function") or {}
                stack.append((fn.get("arguments", []), scope, describe_only))
                skip.add("function")
            elif node["type"] == "SHOW_REF" and node.get("show_type") == "DESCRIBE":
                stack.append((node.get("query"), scope, True))
                skip.add("query")
        stack.extend((v, scope, describe_only) for k, v in node.items() if k not in skip)
    return frozenset(data), frozenset(schema - data)


def _columns(con: duckdb.DuckDBPyConnection, sql: str) -> frozenset[str] | None:
    """Every name a (checked) SELECT can use to read a column, lower-case: the console copies only these
    columns of the tables it reads (a query over two columns of `samples` does not copy the text).
    None (copy every column) when it may read columns it does not name: `*`, COLUMNS(...), `#1`, a
    NATURAL join, PIVOT / UNPIVOT, SUMMARIZE, or a table's name or alias used as a value (the whole row as a struct)."""
    names: set[str] = set()
    bare: set[str] = set()        # names used alone (`s`, not `s.sample_id`): maybe a whole row
    relations: set[str] = set()
    stack: list[object] = [_tree(con, sql)]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        cls, kind = node.get("class"), node.get("type")
        if cls in ("STAR", "POSITIONAL_REFERENCE") or kind in ("PIVOT", "UNPIVOT", "SHOW_REF") or \
                node.get("ref_type") == "NATURAL":
            return None
        if cls == "COLUMN_REF":
            parts = [str(n).lower() for n in node.get("column_names", [])]
            names.update(parts)
            if len(parts) == 1:
                bare.add(parts[0])
        if {"alias", "sample"} <= node.keys():   # a table reference: its name and alias
            relations.update(str(node.get(k) or "").lower() for k in ("alias", "table_name"))
            if node.get("column_name_alias"):   # FROM samples AS s(a, b): columns renamed by position
                return None
        names.update(str(n).lower() for n in node.get("using_columns") or [])
        stack.extend(node.values())
    if bare & (relations - {""}):
        return None
    return frozenset(names)


def _check_table_ref(node: dict, scope: frozenset[str], describe_only: bool, data: set[str],
                     schema: set[str]) -> None:
    kind = node.get("type")
    if kind not in TABLE_REFS:
        raise QueryRefused(f"the console does not run queries with a {kind} table reference")
    if kind == "BASE_TABLE":
        if node.get("catalog_name") or node.get("schema_name") not in ("", "main"):
            raise QueryRefused("the console reads the store's tables only: name them without a catalog or "
                               "schema (e.g. samples, not db.main.samples)")
        name = str(node.get("table_name", "")).lower()
        if name not in scope:
            (schema if describe_only else data).add(name)
    elif kind == "TABLE_FUNCTION":
        fn = node.get("function") or {}
        name = str(fn.get("function_name", "")).lower()
        if name not in TABLE_FUNCTIONS or fn.get("catalog") or fn.get("schema"):
            raise QueryRefused(f"the table function {name}() is not allowed in the console (allowed: "
                               f"{', '.join(sorted(TABLE_FUNCTIONS))}; files, settings and the catalog are "
                               f"out of reach)")
    elif kind == "SHOW_REF":
        name = str(node.get("table_name") or "")
        if node.get("catalog_name") or node.get("schema_name") not in ("", "main", None):
            raise QueryRefused("the console describes the store's tables only (no catalog or schema)")
        if node.get("show_type") == "SHOW_SPECIAL":
            if name not in SHOW_SPECIAL:
                raise QueryRefused(f"SHOW {name.strip(chr(34)).upper()} is not allowed in the console "
                                   f"(SHOW TABLES and SHOW <table> are)")
        elif name:
            schema.add(name.lower())


def check_where(con: duckdb.DuckDBPyConnection, where: str, tables: frozenset[str]) -> str:
    """Check a user's WHERE condition with the console's rules; return it ready to embed in `WHERE (...)`.

    It must parse as exactly one condition: it is placed inside `SELECT * FROM t WHERE (\\n ... \\n)` and
    the result must be a plain SELECT over t with that WHERE and nothing else (no UNION, ORDER BY, LIMIT
    smuggled in by unbalanced parentheses or comments). Subqueries may read `tables` only.
    """
    if len(where) > 10_000:
        raise QueryRefused("the filter is longer than 10,000 characters")
    wrapped = f"(\n{where}\n)"
    sql = f"SELECT * FROM __filter_target WHERE {wrapped}"
    st = _one_statement(con, sql)
    node = _tree(con, st.query) if st.type == duckdb.StatementType.SELECT else {}
    from_table = node.get("from_table") or {}
    plain = (node.get("type") == "SELECT_NODE" and not node.get("modifiers") and not node["cte_map"]["map"]
             and from_table.get("type") == "BASE_TABLE" and from_table.get("table_name") == "__filter_target"
             and node.get("where_clause") is not None and not node.get("group_expressions")
             and node.get("having") is None and node.get("qualify") is None and node.get("sample") is None
             and len(node.get("select_list", [])) == 1 and node["select_list"][0].get("class") == "STAR")
    if not plain:
        raise QueryRefused("the filter must be one SQL condition (like \"subset = 'chart' AND NOT correct\"), "
                           "not a query")
    data, schema = _check_select(con, sql)
    unknown = sorted((data | schema) - tables - {"__filter_target"})
    if unknown:
        raise QueryRefused(f"the filter can read the store's tables only, not {', '.join(unknown)}")
    return wrapped


def readable_error(exc: BaseException) -> str:
    """DuckDB's message as one readable paragraph: 'binder error: ...' without tips and links."""
    text = str(exc).strip()
    text = text.split("\n\nPossible solutions:")[0].split("\n\nSee also")[0].strip()
    m = re.match(r"^([A-Za-z ]+) Error: ", text)
    if m:
        text = f"{m.group(1).lower()} error: {text[m.end():]}"
    if "INTERRUPT" in text.upper():
        return "the query was interrupted"
    return text
