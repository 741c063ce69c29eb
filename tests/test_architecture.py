"""The shape of the code: no import cycles among the project's modules, and no module that holds two concerns.

A cycle means two modules cannot be understood, tested or moved one without the
other; a module past ``MAX_LINES`` usually holds two concerns (about 400 lines is
the aim). Imports inside functions and under ``TYPE_CHECKING`` count: they tie the
modules together all the same.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("portal", "jobs", "vaults", "vaultstore", "fabric", "api", "alerts", "monitoring")
SIZED_PACKAGES = ("portal", "jobs", "vaults", "vaultstore", "api", "alerts", "monitoring")
MAX_LINES = 450


def import_graph(*, type_checking: bool = True) -> grimp.ImportGraph:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=not type_checking, cache_dir=None)


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's components of the module graph, iteratively (no recursion limit to meet)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, imported = work[-1]
            following = next(imported, None)
            if following is not None:
                if following not in index:
                    index[following] = low[following] = len(index)
                    stack.append(following)
                    on_stack.add(following)
                    work.append((following, iter(sorted(graph.find_modules_directly_imported_by(following)))))
                elif following in on_stack:
                    low[module] = min(low[module], index[following])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                components.append(sorted(component))
    return components


def describe_cycle(graph: grimp.ImportGraph, runtime: grimp.ImportGraph, component: list[str]) -> str:
    """One shortest cycle through the component's first module, then every import inside the component (``runtime``
    is the graph without the imports under ``TYPE_CHECKING``, to say which those are)."""
    first = component[0]
    importers = [module for module in graph.find_modules_that_directly_import(first) if module in component]
    chains = [graph.find_shortest_chain(first, importer) for importer in importers]
    cycle = min((chain for chain in chains if chain), key=len)
    lines = [" -> ".join([*cycle, first])]
    for importer in component:
        for imported in sorted(set(graph.find_modules_directly_imported_by(importer)) & set(component)):
            typing_only = [] if runtime.direct_import_exists(importer=importer, imported=imported) else ["(TYPE_CHECKING)"]
            for detail in graph.get_import_details(importer=importer, imported=imported):
                lines.append(" ".join([f"    {importer}:{detail['line_number']}  {detail['line_contents']}", *typing_only]))
    return "\n".join(lines)


def test_the_projects_modules_import_one_another_without_cycles():
    graph = import_graph()
    cycles = [component for component in strongly_connected(graph) if len(component) > 1]
    if cycles:
        runtime = import_graph(type_checking=False)
        raise AssertionError("import cycles:\n" + "\n\n".join(describe_cycle(graph, runtime, component)
                                                             for component in cycles))


def module_sizes() -> list[tuple[int, str]]:
    sizes = []
    for package in SIZED_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.relative_to(ROOT).parts:
                sizes.append((len(path.read_text().splitlines()), str(path.relative_to(ROOT))))
    return sorted(sizes, reverse=True)


def test_no_module_grows_past_the_size_of_one_concern():
    sizes = module_sizes()
    assert len(sizes) > 50  # the packages were found
    oversize = [f"{path}: {lines} lines" for lines, path in sizes if lines > MAX_LINES]
    assert not oversize, f"modules past {MAX_LINES} lines (about 400 is the aim):\n" + "\n".join(oversize)


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    """A changed field without a migration would differ between a fresh database and one that was migrated."""
    from django.core.management import call_command

    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=io.StringIO())
    except SystemExit as missing:
        raise AssertionError("a model changed without a migration: run manage.py makemigrations") from missing
