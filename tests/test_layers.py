"""The house's shape, checked as a new engineer would: no import circle, small files and functions.

(The layers themselves are import-linter's contracts in pyproject.toml, run by .ci/run.)
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "latentatlas"
MAX_FILE_LINES, MAX_FUNCTION_LINES = 450, 60


def _import_graph() -> dict[str, set[str]]:
    grimp = pytest.importorskip("grimp")          # import-linter's graph builder (test extras)
    graph = grimp.build_graph("latentatlas", include_external_packages=False)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each a circle of imports.
    A package's __init__ importing its own submodules is a face, not a circle: left out."""
    def real(a: str, b: str) -> bool:
        return not (b.startswith(a + ".") or a.startswith(b + "."))

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in (w for w in edges.get(v, ()) if real(v, w)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}) == [["a.x", "a.y", "a.z"]]
    assert _cycles({"a": {"a.x"}, "a.x": {"a"}}) == []           # a package and its own module


def test_no_import_circle_in_the_package():
    assert _cycles(_import_graph()) == []


def test_no_file_over_450_lines_and_no_function_over_60():
    too_long = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_FILE_LINES:
            too_long.append(f"{path.relative_to(SRC)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {n} lines")
    assert not too_long, too_long
