"""The package's layers point one way: a walk over every import in deepfake/ (module-level and inside
functions alike; only `if __name__ == "__main__":` blocks are left out, since they run when the module is the
program and never when the library imports it, and `if TYPE_CHECKING:` blocks, which never run)."""
import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "deepfake"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_main_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` (runs only as the program) or `if TYPE_CHECKING:` (never runs: imports for
    annotations alone)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__")


def imported_modules(path: Path) -> set:
    """The deepfake modules `path` imports, by absolute name (a `from .x import y` counts x, and y when y is a
    module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()

    def visit(node):
        if _is_main_guard(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("deepfake"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("deepfake"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


# The one import that points up, each inside a method kept for the Python API and run only when called: README's
# `detector.adapt(fakes, reals)` is a one-line call into adaptation, which is built on training's feature cache
# and evaluation's calibration and so ranks above inference. test_the_run_time_calls_up_are_inside_functions
# checks that nothing imports it at module level.
RUN_TIME_CALLS_UP = {("deepfake.inference.detector", "deepfake.adaptation")}


def import_graph(with_calls_up: bool = False) -> dict:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        # Edges to modules only (a name imported from a module is not a node), and not to the packages that
        # contain the importer: `deepfake` itself is imported by every submodule's import.
        graph[name] = {target for target in imported_modules(path) if target in modules and target != name
                       and not name.startswith(target + ".")
                       and (with_calls_up or (name, target) not in RUN_TIME_CALLS_UP)}
    return graph


def test_the_run_time_calls_up_are_inside_functions():
    with_calls, without = import_graph(with_calls_up=True), import_graph()
    assert {(name, target) for name in with_calls for target in with_calls[name] - without[name]} == \
        RUN_TIME_CALLS_UP  # each is still there (else drop it from the list)
    for importer, target in RUN_TIME_CALLS_UP:
        tree = ast.parse((ROOT / (importer.replace(".", "/") + ".py")).read_text())
        module_level = [node for node in tree.body if isinstance(node, ast.ImportFrom) and node.module
                        and target.endswith(node.module.lstrip("."))]
        assert module_level == []


def reachable(graph: dict, start: str) -> set:
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def is_cli(module: str) -> bool:
    return module == "deepfake.cli" or module.startswith("deepfake.cli.")


def test_no_library_module_imports_the_cli():
    offenders = sorted(name for name, targets in import_graph().items() if not is_cli(name)
                       and any(is_cli(target) for target in targets))
    assert offenders == []


def test_prediction_does_not_import_training():
    graph = import_graph()
    for start in ("deepfake.inference.detector", "deepfake.serve.app"):
        assert {name for name in reachable(graph, start) if name.startswith("deepfake.training")} == set()


def layer(module: str) -> str:
    """deepfake.data.images -> data; deepfake.checkpoint -> checkpoint."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "deepfake"


def test_the_sub_packages_arrows_point_one_way():
    """Between layers (data, inference, evaluation, training, reporting, serve, ...) no two import each other,
    directly or around a loop: a module-level walk alone would let inference.a -> evaluation.b ->
    inference.c pass."""
    layers = {}
    for name, targets in import_graph().items():
        layers.setdefault(layer(name), set()).update(layer(target) for target in targets if layer(target) != layer(name))
    loops = sorted((start, between) for start in layers for between in reachable(layers, start) if start in
                   reachable(layers, between))
    assert loops == []
    assert "inference" not in reachable(layers, "data") and "training" not in reachable(layers, "inference")


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    state, cycles = {}, []

    def walk(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                walk(target, trail + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    assert cycles == []


def test_the_walk_sees_lazy_imports():
    """Guards the test itself: an import inside a function is an edge, one under the __main__ guard is not."""
    graph = import_graph()
    assert "deepfake.inference.onnx_backend" in graph["deepfake.inference.detector"]  # imported inside _load_onnx
    assert "deepfake.cli" not in graph["deepfake.export"]         # only its __main__ block runs the command
    assert "deepfake.inference.detector" not in graph["deepfake.inference.explain"]  # explain takes an Explainable


# Each layer by rank: a module imports only from its own rank or below (imports inside functions count). The
# ground floor holds what every layer needs; a `python -m deepfake.X` entry is a thin __main__ into the CLI.
RANKS = {
    "errors": 0, "extras": 0, "registry": 0, "shipped_weights": 0, "distributed": 0, "preprocessing": 0,
    "checkpoint": 0,
    "data": 1,
    "models": 2,
    "faces": 3, "corpus": 3, "provenance": 3, "synthesis": 3,
    "inference": 4,
    "evaluation": 5,
    "reporting": 6,
    "training": 7,
    "adaptation": 8,
    "serve": 9,
    "cli": 10, "deepfake": 10,  # the package's own facade (deepfake/__init__.py) imports lazily from above
    "__main__": 10,  # python -m deepfake: the `deepfake` command
    "samples": 1, "export": 10, "recalibrate": 10, "convert": 10, "synthesize": 10, "adapt": 10,
}
ENTRY_POINTS = ("export", "recalibrate", "convert", "synthesize", "adapt", "corpus/__main__")


def test_every_module_has_a_rank_and_imports_only_from_its_own_or_below():
    graph = import_graph()
    unranked = sorted({layer(name) for name in graph} - set(RANKS))
    assert unranked == [], f"give these a rank in RANKS: {unranked}"
    upward = sorted((name, target) for name, targets in graph.items() for target in targets
                    if RANKS[layer(target)] > RANKS[layer(name)])
    assert upward == []


def test_the_python_m_entry_points_are_thin():
    """`python -m deepfake.X` modules hold nothing but their __main__ block: the command is in cli/ and the
    work in the sub-package it belongs to."""
    for name in ENTRY_POINTS:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        body = [node for node in tree.body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
        assert len(body) == 1 and _is_main_guard(body[0]), name


def test_nothing_outside_the_tests_imports_a_test():
    """tools/, experiments/ and benchmarks/ share helpers through the package (deepfake.serve.local,
    deepfake.samples), never through tests/."""
    test_modules = {path.stem for path in (ROOT / "tests").glob("*.py")}
    offenders = []
    for folder in ("tools", "experiments", "benchmarks"):
        for path in (ROOT / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names if name.split(".")[0] in
                              test_modules or name.startswith("tests")]
            if "sys.path.insert(0, str(ROOT / \"tests\"))" in path.read_text():
                offenders.append(f"{path.relative_to(ROOT)}: puts tests/ on sys.path")
    assert offenders == []
