"""The layering rule, checked on the import graph (grimp): `rutrans_site` → `workers` →
`translation`, nothing points back up, engines and `translation.audio` know nothing of Django,
`translation.streaming` reaches `translation.jobs` only through its public surface, the
package's top level stays small, and no module is part of an import cycle (lazy imports
inside functions and imports under TYPE_CHECKING count: they are dependencies too). The layers
and the Django-free rules are import-linter contracts too (`pyproject.toml`, `make lint`)."""

from __future__ import annotations

import re
import subprocess
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


def _imports_in_cycles(graph: grimp.ImportGraph) -> list[str]:
    """Every direct import `a -> b` whose target leads back to its importer (grimp's chain
    search): an import that closes a cycle."""
    return sorted(
        f"{module} -> {imported}"
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    )


def test_no_import_cycles(graph):
    assert _imports_in_cycles(graph) == []


def test_a_cycle_is_found():
    graph = grimp.ImportGraph()
    for importer, imported in [("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.z", "a.w")]:
        graph.add_import(importer=importer, imported=imported)
    assert _imports_in_cycles(graph) == ["a.x -> a.y", "a.y -> a.z", "a.z -> a.x"]


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


def test_the_wire_protocol_is_on_the_ground_floor(graph):
    """`translation.protocol` imports nothing of the project but the shared constants, and the
    job and transport sides reach it downward, never through the live stream (issue 32: the
    arrows that climbed back into `streaming/protocol.py`)."""
    assert _imports_beyond_the_constants(graph, "translation.protocol") == []
    into_streaming = sorted(
        f"{module} -> {imported}"
        for side in ("translation.jobs", "translation.messaging")
        for module in _descendants(graph, side)
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith("translation.streaming")
    )
    assert into_streaming == []


def test_the_deployment_shape_is_decided_in_the_task_backend_only():
    """`settings.EMBEDDED` is read in `translation/backend/` alone (issue 32: it was 15
    branches over 9 modules); everything else asks `task_backend()`."""
    readers = sorted(
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "EMBEDDED" in path.read_text()
        and path.parent != ROOT / "translation" / "backend"
        and path != ROOT / "rutrans_site" / "settings.py"
    )
    assert readers == []


def test_the_task_backend_knows_nothing_above_it(graph):
    assert _imports_beyond_the_constants(graph, "translation.backend") == []


def _imports_beyond_the_constants(graph: grimp.ImportGraph, package: str) -> list[str]:
    """The imports of `package`'s modules into the project outside it, but the constants."""
    return sorted(
        f"{module} -> {imported}"
        for module in _descendants(graph, package)
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith(PACKAGES)
        and not imported.startswith(package)
        and imported != "translation.constants"
    )


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


def test_no_browser_module_is_too_long():
    """The 400-line rule covers the browser's code too (static/js/: the modules, the worklet, the
    generated types); protocol.schema.json is data generated from the server's models, not code."""
    long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / "static" / "js").rglob("*")
        if path.suffix in {".js", ".mjs", ".ts"}
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


# Paths a reader is told to make, not to find.
PATHS_TO_CREATE = {"docker/docker-compose.override.yml"}
PATH_MENTION = re.compile(
    r"\b(?:translation|workers|rutrans_site|tests|benchmarks|static/js|docs|docker|scripts)/"
    r"[A-Za-z0-9_./-]+\.(?:py|js|mjs|md|json|cfg|yml|sh)\b"
)


def test_every_path_named_in_code_and_docs_exists():
    """A comment or a doc that names a file that moved sends the reader nowhere."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    sources = [name for name in tracked if name.endswith((".py", ".js", ".mjs", ".md", ".toml"))]
    missing = sorted(
        f"{source}: {mention}"
        for source in sources
        for mention in set(PATH_MENTION.findall((ROOT / source).read_text(errors="replace")))
        if mention not in PATHS_TO_CREATE and not (ROOT / mention).exists()
    )
    assert missing == []
