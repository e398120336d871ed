"""The package's layout as the architecture page states it, read from the source (no imports).

- No import circle between modules at import time (``TYPE_CHECKING`` blocks aside).
- A function-level import is there to save start-up time (or to break nothing else): it says
  why in a comment on its block, or its module (or package) docstring says what is
  "imported on use" and why.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "bisector"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "template" in path.relative_to(PACKAGE).parts:
            continue  # the demo port's source, written out as text
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _absolute(name: str, module: str | None, level: int, modules: dict[str, Path]) -> str:
    if not level:
        return module or ""
    base = name.split(".") if _is_package(name, modules) else name.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _top_level_imports(name: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules ``name`` imports when it is imported (not in functions, not for typing)."""
    tree = ast.parse(modules[name].read_text())
    wanted: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                wanted.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(name, node.module, node.level, modules)
                wanted.add(target)
                wanted.update(f"{target}.{a.name}" for a in node.names)  # `from . import x`
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    for item in getattr(node, block, []):
                        visit(item.body if isinstance(item, ast.ExceptHandler) else [item])

    visit(tree.body)
    return {m for m in wanted if m in modules and m != name}


def test_no_module_imports_itself_back_at_import_time():
    modules = _modules()
    graph = {name: _top_level_imports(name, modules) for name in modules}
    # A package's __init__ that imports its own modules to register them (cli) is no circle:
    # its modules import the package's leaf modules, never the __init__ for its names.
    for name in graph:
        graph[name] = {m for m in graph[name] if not (m in name.split(".") or name.startswith(m + "."))}
    circles = []
    state: dict[str, int] = {}

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert circles == []


def _docstring_says_on_use(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return "imported on use" in doc


def test_every_function_level_import_says_why():
    unexplained = []
    for name, path in _modules().items():
        lines = path.read_text().splitlines()
        package_init = path.parent / "__init__.py"
        if _docstring_says_on_use(path) or (package_init.is_file() and _docstring_says_on_use(package_init)):
            continue
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if "import" in (ast.get_docstring(node) or ""):
                continue  # the function's docstring says why it imports on use
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)) and not _commented(lines, inner.lineno - 1):
                    unexplained.append(f"{path.relative_to(PACKAGE.parent)}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert unexplained == [], "\n".join(unexplained)


def _commented(lines: list[str], index: int) -> bool:
    """A comment on the import's line, or on the line above its block of imports."""
    while index >= 0:
        line = lines[index].strip()
        if "#" in line:
            return True
        if not line.startswith(("from ", "import ")):
            return False
        index -= 1
    return False
