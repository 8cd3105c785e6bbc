"""Imports run down the layers of ARCHITECTURE.md: no circle, no upward import, no root import.

Every import counts, at the top of a module or inside a function: a function-local import
hides a circle from Python, not from this test.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lightxfer"
ROW = re.compile(r"^\| `(lightxfer/[\w/]+\.py)` \| (\d) \|", re.MULTILINE)


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(source, own):
    """The lightxfer modules ``source`` imports; ``from pkg import sub`` imports ``pkg.sub``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {name for name in found if name in MODULES and name != own}


def circles(graph):
    """One circle through each module that has one, as ``a -> b -> a``."""
    found = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            name, path = stack.pop()
            if start in graph[name]:
                found.append(" -> ".join([*path, start]))
                break
            for target in sorted(graph[name] - seen):
                seen.add(target)
                stack.append((target, [*path, target]))
    return found


GRAPH = {name: imports(path.read_text(encoding="utf-8"), name) for name, path in MODULES.items()}


@pytest.fixture(scope="module")
def layers():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    return {module_name(ROOT / path): int(layer) for path, layer in ROW.findall(text)}


def test_every_module_has_a_row_in_architecture_md(layers):
    assert sorted(set(MODULES) - set(layers)) == [], "modules without a row"
    assert sorted(set(layers) - set(MODULES)) == [], "rows without a module"


def test_imports_only_run_down_the_layers(layers):
    upward = [
        f"{name} (layer {layers[name]}) imports {target} (layer {layers[target]})"
        for name, targets in GRAPH.items()
        for target in sorted(targets)
        if layers[target] > layers[name]
    ]
    assert upward == []


def test_no_module_imports_the_package_root():
    assert sorted(name for name, targets in GRAPH.items() if "lightxfer" in targets) == []


def test_no_import_circle():
    assert circles(GRAPH) == []


def test_a_function_local_import_and_a_circle_are_seen():
    # The vectors circle once hid behind an import inside a method.
    hidden = "def resolve():\n    from lightxfer.vectors.loading import resolve_reference\n"
    graph = {
        "lightxfer.vectors.registry": imports(hidden, "lightxfer.vectors.registry"),
        "lightxfer.vectors.loading": {"lightxfer.vectors.registry"},
    }
    assert graph["lightxfer.vectors.registry"] == {"lightxfer.vectors.loading"}
    assert len(circles(graph)) == 2
