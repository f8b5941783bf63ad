"""The package's layout is its architecture: imports flow one way through the stages, and no two
modules import each other, directly or round a loop. Every import counts, lazy ones inside
functions included (they run too); only `if TYPE_CHECKING:` blocks, which never run, are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import vfi

# Lowest first: a module may import its own layer's modules and those of the layers below it.
LAYERS = (
    ("vfi.errors", "vfi.fileio"),
    ("vfi.frames",),
    ("vfi.plugins",),
    ("vfi.models",),
    ("vfi.calib",),
    ("vfi.export",),
    ("vfi.runtime",),
    ("vfi.parity",),
    ("vfi.bench",),
    ("vfi.cli", "vfi.__main__", "vfi.info", "vfi.demo"),
)
# vfi/__init__.py is the public facade: any module may read vfi.__version__ from it, and its lazy
# public names (vfi.Interpolator) point up into the runtime. Reads of it are not edges of the graph.
FACADE = "vfi"

ROOT = Path(vfi.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(source: str, modules: set[str]) -> set[str]:
    """The vfi modules `source` imports (a `from package import submodule` names the submodule)."""
    found = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for branch in child.orelse:
                    visit_one(branch)
                continue
            visit_one(child)

    def visit_one(node):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "vfi")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "vfi":
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
        visit(node)

    visit(ast.parse(source))
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in ROOT.rglob("*.py")}
    modules = set(paths)
    return {name: imported_modules(path.read_text(), modules) - {name, FACADE} for name, path in paths.items()}


def layer_of(module: str) -> int:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} belongs to no layer of tests/test_layers.py; place it in LAYERS")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{importer} (layer {LAYERS[layer_of(importer)][0]}) imports {imported} (layer {LAYERS[layer_of(imported)][0]})"
        for importer, imports in graph.items()
        if importer != FACADE
        for imported in imports
        if layer_of(imported) > layer_of(importer)
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One loop through each strongly connected group of modules (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def test_every_module_has_a_layer():
    for module in import_graph():
        if module != FACADE:
            layer_of(module)


def test_imports_flow_down_the_layers():
    assert upward_imports(import_graph()) == []


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_checks_see_what_they_look_for():
    """The checks on a made-up graph: an upward import, a loop, a lazy import and a type-only one."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from vfi.frames import images\n"
        "def later():\n    from vfi.runtime.video import process_video\n"
        "if TYPE_CHECKING:\n    from vfi.bench.eval import evaluate\n"
    )
    assert imported_modules(source, {"vfi.frames.images"}) == {"vfi.frames.images", "vfi.runtime.video"}
    graph = {"vfi.frames.images": {"vfi.runtime.video"}, "vfi.runtime.video": {"vfi.frames.images"}}
    assert upward_imports(graph) == ["vfi.frames.images (layer vfi.frames) imports vfi.runtime.video (layer vfi.runtime)"]
    assert cycles(graph) == [["vfi.frames.images", "vfi.runtime.video"]]


def test_tests_mirror_the_packages():
    """Each test folder is named after the vfi package its tests cover; `upstream` is the tier
    that compares the models with the official repositories."""
    tests = Path(__file__).parent
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert folders - {"upstream"} <= packages, sorted(folders - packages - {"upstream"})
    # pytest imports test files by base name (no __init__.py): two of one name would collide.
    names = [p.name for p in tests.rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
