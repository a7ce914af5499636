"""The import graph of driftd has no cycles, and the config loader is a leaf.

Every import counts, also those inside functions (a lazy import still ties two
modules together); only ``if TYPE_CHECKING:`` blocks are left out, since they
never run. A package's ``__init__`` counts as the module ``driftd.pkg``, and
importing ``driftd.pkg.mod`` imports ``driftd.pkg`` first.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "driftd"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(PACKAGE / "store" / "migrations"):
            continue  # Alembic scripts, loaded by Alembic
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    package = package.rsplit(".", 1)[0]
                base = f"{package}.{base}" if base else package
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def graph() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target in _imports(ast.parse(path.read_text()), name, path.name == "__init__.py"):
            # ``from driftd.pkg import thing``: the module ``thing`` if there is one, else pkg.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            # Importing a.b.c runs a/__init__ and a/b/__init__ first: those count too.
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                step = ".".join(parts[:i])
                if step in modules and step != name and not name.startswith(step + "."):
                    edges[name].add(step)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return out


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_config_model_imports_no_stage() -> None:
    """The config model is a leaf: the typed tables are checked by the audit and alert
    registries, which driftd.config (the loader) hands to it."""
    edges = graph()
    assert edges["driftd.config.model"] <= {
        "driftd.drift",
        "driftd.config.durations",
        "driftd.config.url",  # URLs parsed as SQLAlchemy does (stdlib only)
        "driftd.errors",
    }
    assert graph()["driftd.config.url"] == set()  # a leaf itself


def test_the_checker_catches_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


# Where an environment may be looked up by name: the config itself and the edges
# that take a name from a person or a file (the CLI, the daemon's load/reload).
NAME_LOOKUP_ALLOWED = ("driftd.config", "driftd.cli", "driftd.daemon.service")


def _name_lookups(tree: ast.AST) -> list[int]:
    """Lines calling ``<x>.environment(...)`` or ``<x>.resolve(...)`` on a config."""
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("environment", "resolve", "resolve_all")
            and isinstance(node.func.value, ast.Name | ast.Attribute)
            and "config" in ast.unparse(node.func.value)
        ):
            lines.append(node.lineno)
    return lines


def test_stages_take_a_resolved_environment() -> None:
    """No stage looks an environment up by name: it is resolved once at the edge
    and passed down (issue 12). The daemon resolves at load and reload only."""
    found = []
    for name, path in _modules().items():
        if name.startswith(NAME_LOOKUP_ALLOWED):
            continue
        for line in _name_lookups(ast.parse(path.read_text())):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if (
                name == "driftd.daemon.service"
                and "resolve_all" in path.read_text().splitlines()[line - 1]
            ):
                continue
            found.append(where)
    assert not found, "environment looked up by name below the edge: " + ", ".join(found)


HEAVY = ("sqlalchemy", "deepdiff", "pglast", "boto3", "botocore", "httpx", "psycopg", "alembic")


def _imported_after(args: list[str]) -> set[str]:
    """Top-level packages imported by ``driftd ARGS`` run in a fresh interpreter."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from driftd.cli.main import cli\n"
        f"sys.argv = ['driftd', *{args!r}]\n"
        "try:\n    cli()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split()[-1000:])


def test_help_imports_no_heavy_library() -> None:
    """`driftd --help` starts fast (issue 15: ≤ 0.3 s): no driver, ORM, differ, SDK,
    and neither pydantic nor rich."""
    loaded = _imported_after(["--help"])
    assert not loaded & {*HEAVY, "pydantic", "rich"}, sorted(loaded & {*HEAVY, "pydantic", "rich"})


def test_config_validate_imports_no_driver_or_differ(tmp_path: Path) -> None:
    config = tmp_path / "driftd.toml"
    config.write_text(
        '[environments.prod]\nurl = "postgresql+psycopg://driftd@db:5432/app"\n'
        '[audit.logs]\ntype = "pgaudit"\npath = "/var/log/postgresql/*.log"\n'
        '[alerts.hook]\ntype = "webhook"\nurl = "https://hooks.example/driftd"\n'
    )
    loaded = _imported_after(["--config", str(config), "config", "validate"])
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
