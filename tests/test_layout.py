"""The package layout keeps its promises: every module imports, no import cycles, engine/ and exporters/ stay
free of Qt and of app/, and each package states its job."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "exporters", "app")


def project_modules() -> dict[str, Path]:
    """module name -> file, for every .py file under the project's packages."""
    mods = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def imported_names(path: Path, module: str) -> set[str]:
    """Every module name an import statement in ``path`` may refer to (anywhere in the file, lazy ones too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    mods = project_modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        targets = {resolve(n) for n in imported_names(path, mod)}
        graph[mod] = {t for t in targets if t and t != mod and not mod.startswith(t + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None (iterative DFS with colours)."""
    state: dict[str, int] = {}
    for start in graph:
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    return path[path.index(child):] + [child]
                if not state.get(child):
                    state[child] = 1
                    stack.append((child, iter(sorted(graph[child]))))
                    path.append(child)
                    break
            else:
                state[node] = 2
                stack.pop()
                path.pop()
    return None


def test_no_import_cycles():
    assert find_cycle(import_graph()) is None


def test_cycle_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("layer", ["engine", "exporters"])
def test_lower_layers_never_import_qt_or_app(layer):
    bad = []
    for mod, path in project_modules().items():
        if mod.split(".")[0] != layer:
            continue
        for name in imported_names(path, mod):
            if name.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "qtpy", "app"):
                bad.append(f"{mod} imports {name}")
    assert bad == []


def test_every_lower_module_imports_without_qt_or_app():
    """Import every engine/ and exporters/ module in a fresh interpreter; Qt and app/ must stay unloaded."""
    mods = [m for m in project_modules() if m.split(".")[0] in ("engine", "exporters")]
    code = (
        "import importlib, json, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ('PySide6', 'app'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("module", sorted(project_modules()))
def test_every_module_imports(module):
    importlib.import_module(module)


def test_every_package_states_its_job_and_exports_resolve():
    for mod, path in project_modules().items():
        if path.name != "__init__.py":
            continue
        package = importlib.import_module(mod)
        doc = (package.__doc__ or "").strip()
        assert doc and "\n" not in doc, f"{mod} needs a one-line docstring"
        for name in dir(package):
            if not name.startswith("_"):
                assert getattr(package, name) is not None


def test_cli_front_end_imports_without_qt():
    code = "import sys, app.cli; print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
