"""The layers of DESIGN section 3, checked on the source: no import circle, one home for the trust's
state, each outside library imported by the one package that owns it, and no arrow back up."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from trust.config import REPO_ROOT

PACKAGE = REPO_ROOT / "trust"
STATE_TABLES = (
    "users",
    "tokens",
    "outputs",
    "audit_events",
    "release_requests",
    "release_outputs",
    "release_reviews",
    "checker_sessions",
    "cell_populations",
    "trust_secrets",
    "dataset_versions",
    "dataset_changes",
    "idempotency_keys",
    "schema_version",
)
INTERFACES = ("trust.cli", "trust.server", "trust.client")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module of the package that ``name`` imports, wherever the import statement sits."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_package else name.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _external(path: Path) -> set[str]:
    """The top-level names of every module outside the package that ``path`` imports."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_package_is_in_an_import_circle():
    assert _cycles(GRAPH) == []


def _sql_literals(path: Path) -> list[str]:
    return [
        n.value
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


_STATE_SQL = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|FROM|JOIN|CREATE\s+TABLE)\s+"
    rf"(?:{'|'.join(STATE_TABLES)})\b",
    re.IGNORECASE,
)


def test_only_the_store_holds_sql_against_the_trusts_state():
    offenders = {
        name
        for name, path in MODULES.items()
        if not name.startswith("trust.store") and any(_STATE_SQL.search(text) for text in _sql_literals(path))
    }
    assert offenders == set()
    assert any(_STATE_SQL.search(t) for t in _sql_literals(MODULES["trust.store.outputs"]))  # the check can see SQL


@pytest.mark.parametrize(
    ("library", "owners"),
    [
        ("sqlite3", ("trust.store",)),
        ("duckdb", ("trust.engine",)),
        ("duckdb_extension_httpfs", ("trust.engine",)),
        ("pyspark", ("trust.engine.spark",)),
        ("py4j", ("trust.engine.spark",)),
        ("regopy", ("trust.policy",)),
        ("opa_client", ("trust.policy",)),
        ("fastapi", ("trust.server",)),
    ],
)
def test_each_library_is_imported_only_by_its_owner(library: str, owners: tuple[str, ...]):
    users = {name for name, path in MODULES.items() if library in _external(path)}
    assert {u for u in users if not u.startswith(owners)} == set()


def test_the_service_never_imports_an_interface():
    up = {
        (name, target)
        for name, targets in GRAPH.items()
        if name.startswith("trust.service")
        for target in targets
        if target.startswith(INTERFACES)
    }
    assert up == set()


def test_interfaces_reach_state_and_engines_only_through_the_service():
    below = ("trust.store", "trust.engine", "trust.audit.log", "trust.sql", "trust.sdc.protect")
    crossing = {
        (name, target)
        for name, targets in GRAPH.items()
        if name.startswith(INTERFACES)
        for target in targets
        if target.startswith(below)
    }
    assert crossing == set()


def test_audit_events_are_written_only_by_the_service():
    writers = {
        name
        for name, path in MODULES.items()
        if re.search(r"\baudit\.(?:append|record)\(|AuditLog\.append\(", path.read_text())
    }
    assert {w for w in writers if not w.startswith("trust.service")} == set()


def test_the_client_needs_only_the_wire_format_and_pyarrow():
    heavy = (
        "duckdb",
        "regopy",
        "sqlglot",
        "sqlite3",
        "_sqlite3",
        "fastapi",
        "uvicorn",
        "pyspark",
        "trust.service",
        "trust.store",
        "trust.engine",
        "trust.policy",
        "trust.sql",
    )
    code = (
        "import sys, trust.client, trust\nc = trust.Client('http://127.0.0.1:9', token='lmdt_x', progress=False)\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""
