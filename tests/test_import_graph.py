"""The package's modules import one another without a cycle, imports inside functions included.

A cycle hidden by an import inside a function still ties the modules together: each needs
the other to be read. Only optional heavy packages are imported lazily, and they are outside
the package, so they never form a cycle here.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "edge_emotion"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports anywhere in it (module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from edge_emotion.x import y`` imports x.y when y is a module, else x
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name for name in submodules if name in modules]
            if len(names) < len(submodules):
                names.append(node.module)
        else:
            continue
        found.update(name for name in names if name in modules)
    found.discard(module_name(path))
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imported(path, modules) for path in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as the modules along it, or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for child in sorted(graph.get(module, ())):
            if cycle := visit(child):
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module):
            return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "edge_emotion.training.config" in graph["edge_emotion.training.fit"]  # the graph sees the imports
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_a_cycle_through_a_function_level_import_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_device_code_names_no_workstation_module_even_inside_a_function() -> None:
    """The root's modules and ``device/`` import nothing from ``training/`` or ``convert/``, however deep in a function;
    the command line alone imports them, inside the workstation commands' functions (at import it loads none:
    test_layout_imports.py)."""
    graph = import_graph()
    workstation = ("edge_emotion.training", "edge_emotion.convert")
    commands = ("edge_emotion.cli",)
    device = [name for name in graph if not name.startswith(workstation) and name not in commands]
    assert "edge_emotion.resolve" in device and "edge_emotion.device.io.live" in device
    for module in device:
        imported = sorted(name for name in graph[module] if name.startswith(workstation))
        assert imported == [], f"{module} imports {imported}"


def test_the_engine_imports_nothing_of_the_io_around_it() -> None:
    graph = import_graph()
    engine = [name for name in graph if name.startswith("edge_emotion.device.engine")]
    assert "edge_emotion.device.engine.recognizer" in engine
    for module in engine:
        imported = sorted(name for name in graph[module] if name.startswith("edge_emotion.device.io"))
        assert imported == [], f"{module} imports {imported}"
