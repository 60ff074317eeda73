"""The dependency sets and their locks (pyproject.toml, requirements/*.lock, the Makefile): every pin
exact and locked at the same version, each lock holding the smaller ones, the runtime free of what only
the demo, Spark or the tests need, and every library the package imports declared where it belongs."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from trust.config import REPO_ROOT

LOCKS = REPO_ROOT / "requirements"
PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]
# Which pyproject sets each lock resolves (as scripts/lock.py does).
SETS = {
    "runtime": (),
    "demo": ("demo",),
    "spark": ("spark",),
    "opa": ("opa",),
    "test": ("demo", "spark", "opa", "test", "dev"),
}
# moto[server]'s weight: what the demo's S3 server must not bring back.
MOTO_SERVER_ONLY = ("cfn-lint", "sympy", "docker", "aws-xray-sdk", "networkx", "openapi-spec-validator", "graphql-core")
# Where a library of an extra may be imported: only there does the package need it.
EXTRA_HOMES = {"demo": "trust.demo.", "spark": "trust.engine.spark.", "opa": "trust.policy.opa"}
# Packages an extra names that the runtime needs as well (rocrate needs requests, authlib needs
# cryptography); the extras name them because their own code imports them.
ALSO_THE_RUNTIMES = {"requests", "cryptography"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pin(requirement: str) -> tuple[str, str | None]:
    """``'moto[s3]==5.2.5'`` -> ``('moto', '5.2.5')``; the version is None unless pinned exactly."""
    m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==\s*([^\s,;]+))?\s*", requirement)
    assert m, f"not a plain requirement: {requirement!r}"
    return canonical(m.group(1)), m.group(2)


def read_lock(name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (LOCKS / f"{name}.lock").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        package, version = parse_pin(line)
        assert version is not None, f"{name}.lock: {line!r} is not pinned exactly"
        assert package not in pins, f"{name}.lock: {package} twice"
        pins[package] = version
    return pins


LOCKED = {name: read_lock(name) for name in SETS}


def requirements(extras: tuple[str, ...]) -> list[str]:
    return list(PROJECT["dependencies"]) + [r for extra in extras for r in EXTRAS[extra]]


def test_every_lock_exists_and_says_how_it_was_made():
    for name in SETS:
        header = (LOCKS / f"{name}.lock").read_text().splitlines()[:3]
        assert any("scripts/lock.py" in line for line in header), name
        assert len(LOCKED[name]) > 10, name


@pytest.mark.parametrize("name", SETS)
def test_every_pyproject_requirement_is_pinned_exactly_and_locked_at_that_version(name: str):
    for requirement in requirements(SETS[name]):
        package, version = parse_pin(requirement)
        assert version is not None, f"pyproject.toml: {requirement!r} is not pinned with =="
        assert LOCKED[name].get(package) == version, f"{name}.lock has {package}=={LOCKED[name].get(package)}"


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("runtime", "demo"),
        ("runtime", "spark"),
        ("runtime", "opa"),
        ("demo", "test"),
        ("spark", "test"),
        ("opa", "test"),
    ],
)
def test_each_lock_holds_the_smaller_ones_at_the_same_versions(smaller: str, larger: str):
    # `make test` stamps the demo as installed too, which is right only while this holds.
    differ = {p: (v, LOCKED[larger].get(p)) for p, v in LOCKED[smaller].items() if LOCKED[larger].get(p) != v}
    assert differ == {}


def test_the_runtime_holds_nothing_that_only_the_demo_spark_or_the_tests_need():
    runtime_names = {parse_pin(r)[0] for r in PROJECT["dependencies"]}
    only_extras = {parse_pin(r)[0] for extra in EXTRAS.values() for r in extra} - runtime_names
    assert {"moto", "flask", "pyspark", "opa-python-client", "pytest", "jupyterlab", "playwright"} <= only_extras
    assert only_extras & set(LOCKED["runtime"]) <= ALSO_THE_RUNTIMES
    for extra in ("spark", "opa", "test", "dev"):
        others = {parse_pin(r)[0] for r in EXTRAS[extra]} - ALSO_THE_RUNTIMES
        assert others & set(LOCKED["demo"]) == set(), extra


def closure(reqs: list[str]) -> dict[str, str]:
    """Every installed distribution that ``reqs`` need, with its version, read from the installed
    metadata: what the lock of ``reqs`` must hold when the environment was installed from test.lock."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement

    found: dict[str, str] = {}
    todo = [Requirement(r) for r in reqs]
    while todo:
        req = todo.pop()
        name = canonical(req.name)
        dist = distribution(name)
        extras = sorted(req.extras)
        if name in found and not extras:
            continue
        found[name] = dist.version
        for spec in dist.requires or []:
            sub = Requirement(spec)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in ["", *extras]):
                todo.append(sub)
    return found


@pytest.mark.parametrize("name", SETS)
def test_each_lock_is_exactly_what_its_set_needs(name: str):
    installed = closure(requirements(SETS[name]))
    if any(LOCKED["test"].get(p) != v for p, v in installed.items()):
        pytest.skip("this environment was not installed from requirements/test.lock")
    assert {p: v for p, v in installed.items() if p not in LOCKED[name]} == {}, "missing from the lock"
    assert {p: v for p, v in LOCKED[name].items() if p not in installed} == {}, "in the lock, needed by nothing"


@pytest.mark.parametrize("name", SETS)
def test_no_lock_brings_in_moto_servers_other_services(name: str):
    assert set(MOTO_SERVER_ONLY) & set(LOCKED[name]) == set()


# Which import of which library, and whether it runs when its module is imported.


def _imports(tree: ast.AST) -> Iterator[tuple[str, bool]]:
    """(top-level module, imported at module import time) for each absolute import in ``tree``."""

    def walk(node: ast.AST, eager: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                yield from ((a.name.split(".")[0], eager) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if not child.level and child.module:
                    yield child.module.split(".")[0], eager
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, False)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from walk(child, False)
            else:
                yield from walk(child, eager)

    yield from walk(tree, True)


def misplaced_imports(sources: dict[str, str]) -> list[str]:
    """Each import, among ``{module name: source}``, of a library that the set its module belongs to
    does not declare: the runtime's modules may use only pyproject's dependencies; a module under an
    extra's home may also use that extra's, and trust.demo only inside functions (the CLI imports it)."""
    owners = packages_distributions()
    declared = {"runtime": {parse_pin(r)[0] for r in PROJECT["dependencies"]}}
    declared |= {extra: {parse_pin(r)[0] for r in EXTRAS[extra]} for extra in EXTRA_HOMES}
    found = []
    for module, source in sources.items():
        for top, eager in _imports(ast.parse(source)):
            if top in sys.stdlib_module_names or top == "__future__" or top == "trust":
                continue
            dists = {canonical(d) for d in owners.get(top, [])}
            if not dists:
                found.append(f"{module}: imports {top}, which no installed distribution provides")
                continue
            if dists & declared["runtime"]:
                continue
            extra = next((e for e in EXTRA_HOMES if dists & declared[e]), None)
            if extra is None:
                found.append(f"{module}: imports {top} ({', '.join(sorted(dists))}), not in pyproject's dependencies")
            elif not module.startswith(EXTRA_HOMES[extra]):
                found.append(f"{module}: imports {top} from the {extra} extra outside {EXTRA_HOMES[extra]}*")
            elif extra == "demo" and eager:
                found.append(f"{module}: imports {top} (the demo extra) at module level")
    return found


def _package_sources() -> dict[str, str]:
    return {
        ".".join(p.relative_to(REPO_ROOT).with_suffix("").parts): p.read_text()
        for p in (REPO_ROOT / "trust").rglob("*.py")
    }


def test_every_library_the_package_imports_is_declared_in_the_set_that_needs_it():
    assert misplaced_imports(_package_sources()) == []


def test_the_import_check_sees_an_undeclared_or_misplaced_library():
    found = misplaced_imports(
        {
            "trust.sql.x": "import scipy\nimport numpy\n",  # scipy: tests only; numpy: a dependency
            "trust.service.y": "def f():\n    import moto\n",  # the demo's, outside trust.demo
            "trust.demo.z": "from moto.server import x\n",  # the demo's, but at module level
            "trust.server.w": "from pyspark.sql import SparkSession\n",  # Spark's, outside the engine
            "trust.policy.select": "def f():\n    import opa_client\n",  # the opa extra's, outside opa.py
            "trust.engine.spark.v": "import pyspark\n",  # fine
            "trust.demo.u": "def f():\n    import werkzeug\n",  # fine
        }
    )
    assert [f.split(":")[0] for f in found] == [
        "trust.sql.x",
        "trust.service.y",
        "trust.demo.z",
        "trust.server.w",
        "trust.policy.select",
    ]


# The Makefile: `make demo` installs the demo's lock only, `make test` the full one.


def _dry_run(target: str, tmp_path: Path) -> str:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    shutil.copytree(LOCKS, tmp_path / "requirements", dirs_exist_ok=True)
    done = subprocess.run(["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_installs_the_demo_lock_and_make_test_the_full_one(tmp_path: Path):
    demo = _dry_run("demo", tmp_path)
    assert "-r requirements/demo.lock" in demo and "test.lock" not in demo
    assert "trust demo" in demo
    test = _dry_run("test", tmp_path)
    assert "-r requirements/test.lock" in test and "pytest" in test
    assert "scripts/install-browser.sh" in test and "scripts/install-java.sh" in test
