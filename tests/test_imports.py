"""The project's modules import each other without cycles, and each room imports only the rooms it may
(docs/architecture.md, "Who may import whom"). Imports inside functions count too: a lazy import is still a
dependency, and a cycle through one is an import-order trap waiting for the next refactoring."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("scrm", "connectors", "callbacks", "tasks", "h5", "console", "sandbox")

#: room → the rooms (packages or modules) its modules may import; a module may always import its own room
ALLOWED = {
    "scrm": {"scrm"},
    "connectors": {"scrm.host", "scrm.events"},
    "callbacks": {"scrm", "tasks.publisher", "tasks.events"},
    "tasks": {"scrm"},
    "h5": {"scrm"},
    "console": {"scrm"},
    "sandbox": {"connectors.wecom.crypto", "connectors.dingtalk.crypto"},
}
#: the composition root and the entry points wire the rooms together
ROOTS = {
    "scrm.app": {"connectors", "callbacks", "tasks", "h5", "console"},
    "scrm.embedded": {"sandbox"},
    "scrm.console": set(),
    "scrm.wsgi": set(),
    "tasks.worker": {"scrm"},
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")] = path
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (at the top or inside functions)."""
    known = modules()
    edges: dict[str, set[str]] = {m: set() for m in known}
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            else:
                continue
            for target in targets:
                owner = _owner(target, known)
                if owner and owner != module:
                    edges[module].add(owner)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
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
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _within(module: str, rooms: set[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in rooms)


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_each_room_imports_only_what_it_may():
    wrong = []
    for module, targets in graph().items():
        room = module.split(".")[0]
        allowed = {room} | ALLOWED[room] | ROOTS.get(module, set())
        wrong += [f"{module} → {t}" for t in sorted(targets) if not _within(t, allowed)]
    assert wrong == []
