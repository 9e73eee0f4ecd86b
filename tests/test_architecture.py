"""The layering rule, checked on the import graph (grimp): `rutrans_site` → `workers` →
`translation`, nothing points back up, engines and `translation.audio` know nothing of Django,
`translation.streaming` reaches `translation.jobs` only through its public surface, the
package's top level stays small, and no module is part of an import cycle (lazy imports
inside functions and imports under TYPE_CHECKING count: they are dependencies too)."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

PACKAGES = ("rutrans_site", "translation", "workers")
LAYERS = ("rutrans_site", "workers", "translation")  # each may import only those after it
ROOT = Path(__file__).resolve().parent.parent

# What the live stream may use of the job lifecycle: it creates jobs (`submit`), reads them
# (`selectors`) and asks how far behind the workers are (`capacity`, a cached read); starting,
# finishing, recovering and delivering belong to the jobs' own side.
JOBS_SURFACE_FOR_STREAMING = {
    "translation.jobs",
    "translation.jobs.submit",
    "translation.jobs.selectors",
    "translation.jobs.capacity",
}
MAX_TOP_LEVEL_MODULES = 12
MAX_MODULE_LINES = 400


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None, exclude_type_checking_imports=False)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
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
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_no_import_cycles(graph):
    assert _cycles(graph) == []


def test_layers_point_down_only(graph):
    illegal = graph.find_illegal_dependencies_for_layers(layers=LAYERS, containers=set())
    routes = sorted(
        f"{head} -> {' -> '.join(route.middle)} -> {tail}".replace(" ->  -> ", " -> ")
        for dependency in illegal
        for route in dependency.routes
        for head in route.heads
        for tail in route.tails
    )
    assert routes == []


@pytest.mark.parametrize("forbidden", ["django", "rutrans_site", "translation.models"])
def test_engines_know_nothing_of_django(forbidden):
    engines = grimp.build_graph("workers", "django", "rutrans_site", "translation", cache_dir=None)
    for module in engines.find_descendants("workers.engines") | {"workers.engines"}:
        imported = engines.find_modules_directly_imported_by(module)
        assert not {m for m in imported if m == forbidden or m.startswith(forbidden + ".")}, (
            f"{module} imports {forbidden}"
        )


def _descendants(graph: grimp.ImportGraph, package: str) -> set[str]:
    return graph.find_descendants(package) | {package}


def test_audio_imports_no_django():
    """`translation.audio` is signal code the workers and tools use too: no Django, no models."""
    full = grimp.build_graph(
        "translation",
        "django",
        "rest_framework",
        "channels",
        cache_dir=None,
        exclude_type_checking_imports=False,
    )
    allowed_inside = {"translation.constants"}
    for module in _descendants(full, "translation.audio"):
        for imported in full.find_modules_directly_imported_by(module):
            assert not imported.startswith(("django", "rest_framework", "channels")), (
                f"{module} imports {imported}"
            )
            if imported.startswith("translation.") and not imported.startswith("translation.audio"):
                assert imported in allowed_inside, f"{module} imports {imported}"


def test_streaming_reaches_jobs_only_through_its_surface(graph):
    crossings = sorted(
        f"{module} -> {imported}"
        for module in _descendants(graph, "translation.streaming")
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith("translation.jobs") and imported not in JOBS_SURFACE_FOR_STREAMING
    )
    assert crossings == []


def test_top_level_of_translation_stays_small():
    modules = sorted(p.name for p in (ROOT / "translation").glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules


@pytest.mark.parametrize(
    "folder",
    sorted(p.name for p in (ROOT / "translation").iterdir() if (p / "__init__.py").exists()),
)
def test_each_sub_domain_of_translation_stays_small(folder):
    """Each of translation/'s folders too (its modules besides the package's __init__)."""
    modules = sorted(
        p.name for p in (ROOT / "translation" / folder).glob("*.py") if p.name != "__init__.py"
    )
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_too_long(package):
    long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
