"""One-way layers and no import cycles (DESIGN.md "Layout"; issue 8).

The contracts live in pyproject.toml ([tool.importlinter]) and run here through import-linter. On
top of them, the import graph of every avfleet module (grimp, the graph import-linter builds) must
hold no cycle at all: contracts see packages, this sees modules. Imports inside functions count;
imports under `if TYPE_CHECKING:` do not, as in the contracts.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def find_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself),
    by Tarjan's algorithm, iterative so a deep graph cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    cycles.append(sorted(component))
    return cycles


def describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    """One cycle of a component, spelled out with the line of each import."""
    first = component[0]
    members = set(component)
    best: tuple[str, ...] | None = None
    for imported in sorted(graph.find_modules_directly_imported_by(first) & members):
        back = graph.find_shortest_chain(importer=imported, imported=first)
        if back and (best is None or len(back) < len(best)):
            best = (first, *back)
    steps = []
    for importer, imported in zip(best or (), (best or ())[1:], strict=False):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = f" (line {details[0]['line_number']})" if details else ""
        steps.append(f"{importer} -> {imported}{where}")
    return "; ".join(steps) or ", ".join(component)


def module_graph() -> tuple[grimp.ImportGraph, dict[str, set[str]]]:
    graph = grimp.build_graph("avfleet", cache_dir=None, exclude_type_checking_imports=True)
    return graph, {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}


def test_no_import_cycle_between_avfleet_modules() -> None:
    graph, edges = module_graph()
    assert len(edges) > 50, "the graph should hold every avfleet module"
    cycles = find_cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(describe(graph, c) for c in cycles)


def test_cycle_finder_sees_cycles() -> None:
    # The finder itself must be able to fail: a two-module cycle, a self-import and a longer ring.
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert find_cycles({"a": {"a"}}) == [["a"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"d"}, "d": {"b"}}) == [["b", "c", "d"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_import_linter_contracts() -> None:
    done = subprocess.run([str(LINT_IMPORTS), str(REPO / "pyproject.toml"), "--no-cache"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
