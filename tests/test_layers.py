"""The import graph of ssm_action, computed from the source: no cycle, and the layers hold.

Every import counts, at module level or inside a function or ``if TYPE_CHECKING``: a lazy or
typing-only import is still a dependency a reader has to follow. The layers:
- ``contract`` imports nothing of the action: both sides import it;
- the agent imports only itself and the contract (it runs alone on servers);
- the runner side uses the agent only through the contract and ``payload`` (the zipapp);
- ``config`` never imports ``deploy`` or ``transports`` (they are built on it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ssm_action"


def module_files() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = module_files()


def _owner(name: str) -> str:
    """The module that ``name`` (a module, or a name inside one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports_of(name: str, path: Path) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {_owner(alias.name) for alias in node.names if alias.name.startswith("ssm_action")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            if base.startswith("ssm_action"):  # `from pkg import module` names a module
                found |= {_owner(f"{base}.{alias.name}") for alias in node.names}
    return found - {name, "ssm_action", ""}


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def breaches(graph: dict[str, set[str]]) -> list[str]:
    def inside(name: str, package: str) -> bool:
        return name == package or name.startswith(package + ".")

    found = []
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            rule = ""
            if inside(module, "ssm_action.contract"):
                rule = "the contract imports nothing of the action" if not inside(dep, "ssm_action.contract") else ""
            elif inside(module, "ssm_action.agent"):
                if not (inside(dep, "ssm_action.agent") or inside(dep, "ssm_action.contract")):
                    rule = "the agent imports only itself and the contract"
            elif inside(dep, "ssm_action.agent") and module != "ssm_action.payload":
                rule = "the runner side uses the agent through the contract and payload only"
            elif inside(module, "ssm_action.config") and (inside(dep, "ssm_action.deploy")
                                                          or inside(dep, "ssm_action.transports")):
                rule = "config imports neither deploy nor transports"
            if rule:
                found.append(f"{module} -> {dep}: {rule}")
    return found


def test_the_graph_is_read_from_the_source():
    assert "ssm_action.agent.cli" in GRAPH and "ssm_action.agent.deploy" in GRAPH["ssm_action.agent.cli"]
    assert "ssm_action.deploy.model" in GRAPH["ssm_action.transports.local"]


def test_no_import_cycle():
    assert cycles(GRAPH) == []


def test_the_layers_hold():
    assert breaches(GRAPH) == []


@pytest.mark.parametrize("graph, found", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_a_cycle_is_found(graph, found):
    assert cycles(graph) == found


def test_a_breach_is_found():
    graph = {"ssm_action.config.app_inputs": {"ssm_action.deploy.plan"}, "ssm_action.agent.x": {"ssm_action.runner"},
             "ssm_action.deploy.y": {"ssm_action.agent.aws"}, "ssm_action.payload": {"ssm_action.agent.cli"}}
    assert [line.split(":")[0] for line in breaches(graph)] == [
        "ssm_action.agent.x -> ssm_action.runner", "ssm_action.config.app_inputs -> ssm_action.deploy.plan",
        "ssm_action.deploy.y -> ssm_action.agent.aws"]
