"""The house's rules, read from the source: imports point one way between the apps
(`techniques <- catalogue <- {logbook, shipping, doi}`, docs/architecture.md), and no module of an
app imports, even lazily inside a function, one that imports it back."""

import ast
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
APPS = ["techniques", "catalogue", "logbook", "shipping", "doi"]
# What each app may import of the others.
ALLOWED = {
    "techniques": set(),
    "catalogue": {"techniques"},
    "logbook": {"techniques", "catalogue"},
    "shipping": {"techniques", "catalogue"},
    "doi": {"techniques", "catalogue"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(BASE_DIR).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (BASE_DIR / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            modules[module_name(path)] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules this one imports, anywhere in it (function bodies too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports the module.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def test_imports_point_one_way_between_the_apps():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if (app := module.split(".")[0]) != (other := target.split(".")[0]) and other not in ALLOWED[app]
    )
    assert not wrong


def test_no_import_circle_inside_an_app():
    graph = import_graph()
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            # A package's __init__ importing its own modules is how packages open, not a circle.
            if target.startswith(module + "."):
                continue
            if state.get(target) == 1:
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles


def test_the_walk_sees_lazy_imports(tmp_path):
    """The rule's own check: an import inside a function counts."""
    (tmp_path / "a.py").write_text("def f():\n    from . import b\n")
    assert imports_of("pkg.a", tmp_path / "a.py", {"pkg.a", "pkg.b"}) == {"pkg.b"}
