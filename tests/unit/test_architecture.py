"""The import rules of ARCHITECTURE.md, checked against every import of the package and the service.

The layer order is read from ARCHITECTURE.md itself (its `layers:` and `service:` lines), so the
document and this check cannot disagree. Imports are read with ast, not by importing: those inside
functions (the CLI imports each command's modules when it runs), under `if TYPE_CHECKING:`, relative
ones and `importlib.import_module("mlloop....")` calls all count.
"""

import ast
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).parents[2]
SOURCE_ROOT = PROJECT_ROOT / "src"
PACKAGE = "mlloop"
ARCHITECTURE = PROJECT_ROOT / "ARCHITECTURE.md"
SERVICE = PROJECT_ROOT / "bento" / "service.py"

Layers = Sequence[frozenset[str]]
"""Lowest first; the packages of one layer may not import each other."""


@dataclass(frozen=True)
class Import:
    """One import of a project module, where it is written."""

    importer: str
    imported: str
    where: str

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported} ({self.where})"


def _groups(declaration: str) -> list[frozenset[str]]:
    """`a → {b, c} → d` as [{a}, {b, c}, {d}]."""
    return [frozenset(name.strip() for name in group.strip(" {}").split(",")) for group in declaration.split("→")]


def declared_layers(text: str) -> list[frozenset[str]]:
    """The `layers:` line of ARCHITECTURE.md."""
    found = re.search(r"^layers:(.+)$", text, re.MULTILINE)
    assert found, f"{ARCHITECTURE.name} must declare the import order on a line `layers: a → b → {{c, d}} → ...`"
    return _groups(found.group(1))


def declared_service_imports(text: str) -> frozenset[str]:
    """The packages the `service:` line of ARCHITECTURE.md lets bento/service.py import."""
    found = re.search(r"^service: bento/service\.py →(.+)$", text, re.MULTILINE)
    assert found, (
        f"{ARCHITECTURE.name} must declare the service's imports on a line `service: bento/service.py → {{a, b}}`"
    )
    (allowed,) = _groups(found.group(1))
    return allowed


def package_of(module: str) -> str:
    """`mlloop.core.schema` → `core`; the root `mlloop` → `` (it belongs to no layer)."""
    return module.split(".")[1] if "." in module else ""


def _describe(layers: Layers) -> str:
    return " → ".join("{" + ", ".join(sorted(group)) + "}" if len(group) > 1 else next(iter(group)) for group in layers)


def broken_layer_rules(imports: Iterable[Import], layers: Layers) -> list[str]:
    """Every import that goes up the layers, sideways between packages of one layer, or out of no layer."""
    rank = {package: position for position, group in enumerate(layers) for package in group}
    order = _describe(layers)
    problems = []
    for edge in imports:
        source, target = package_of(edge.importer), package_of(edge.imported)
        if source == target and source:
            continue
        if not source:
            problems.append(f"{edge}: the package root is in no layer and may import nothing of the project")
        elif source not in rank or target not in rank:
            missing = source if source not in rank else target or PACKAGE
            problems.append(f"{edge}: `{missing}` is in no layer of {ARCHITECTURE.name} ({order})")
        elif rank[target] > rank[source]:
            problems.append(f"{edge}: upward import, `{source}` may not import the higher layer `{target}` ({order})")
        elif rank[target] == rank[source]:
            problems.append(f"{edge}: `{source}` and `{target}` share a layer and may not import each other ({order})")
    return problems


def broken_service_rules(imports: Iterable[Import], allowed: frozenset[str]) -> list[str]:
    """Every import of the service outside the packages it may use."""
    permitted = ", ".join(sorted(allowed))
    return [
        f"{edge}: the service may import only {permitted}, not `{package_of(edge.imported) or PACKAGE}`"
        for edge in imports
        if package_of(edge.imported) not in allowed
    ]


def module_name(path: Path, source_root: Path) -> str:
    """`src/mlloop/core/schema.py` → `mlloop.core.schema`; a package's `__init__.py` is the package."""
    parts = path.relative_to(source_root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_names(node: ast.AST, importer: str, is_package: bool) -> list[str]:
    """The dotted names one node imports: `from a import b` gives `a.b`, resolved later to a or a.b."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            anchor = importer.split(".")[: len(importer.split(".")) - node.level + is_package]
            base = ".".join([*anchor, node.module] if node.module else anchor)
        else:
            base = node.module or ""
        return [f"{base}.{alias.name}" for alias in node.names]
    if isinstance(node, ast.Call) and node.args:
        function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        first = node.args[0]
        if function == "import_module" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [first.value]
        if function == "import_module" and isinstance(first, ast.JoinedStr) and first.values:
            prefix = first.values[0]
            if isinstance(prefix, ast.Constant) and isinstance(prefix.value, str):
                return [prefix.value.rstrip(".")]
    return []


def project_imports(path: Path, importer: str, modules: frozenset[str], where_root: Path) -> list[Import]:
    """Every import of a project module in one file, wherever it sits in the file, each once."""
    return list(dict.fromkeys(_project_imports(path, importer, modules, where_root)))


def _project_imports(path: Path, importer: str, modules: frozenset[str], where_root: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        for name in _imported_names(node, importer, path.name == "__init__.py"):
            if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
                continue
            # `from pkg import name`: the module pkg.name when there is one, else pkg itself.
            imported = name if name in modules else name.rpartition(".")[0] or name
            if imported in modules:
                yield Import(importer, imported, f"{path.relative_to(where_root)}:{getattr(node, 'lineno', 0)}")


def package_imports(source_root: Path, where_root: Path) -> list[Import]:
    """Every import of a project module by a module of the package under source_root."""
    files = sorted((source_root / PACKAGE).rglob("*.py"))
    modules = frozenset(module_name(path, source_root) for path in files)
    return [
        edge for path in files for edge in project_imports(path, module_name(path, source_root), modules, where_root)
    ]


def all_modules() -> frozenset[str]:
    return frozenset(module_name(path, SOURCE_ROOT) for path in (SOURCE_ROOT / PACKAGE).rglob("*.py"))


def test_no_module_imports_a_higher_layer_or_another_package_of_its_layer() -> None:
    layers = declared_layers(ARCHITECTURE.read_text())

    problems = broken_layer_rules(package_imports(SOURCE_ROOT, PROJECT_ROOT), layers)

    assert not problems, "imports that break ARCHITECTURE.md's layers:\n" + "\n".join(problems)


def test_every_package_and_top_level_module_has_a_layer() -> None:
    layered = frozenset[str]().union(*declared_layers(ARCHITECTURE.read_text()))

    unplaced = sorted({package_of(module) for module in all_modules()} - layered - {""})

    assert not unplaced, f"add each to the `layers:` line of {ARCHITECTURE.name}: {unplaced}"


def test_the_service_imports_only_the_packages_architecture_allows() -> None:
    allowed = declared_service_imports(ARCHITECTURE.read_text())
    service_imports = project_imports(SERVICE, "service", all_modules(), PROJECT_ROOT)

    problems = broken_service_rules(service_imports, allowed)

    assert service_imports, "the service imports the package; finding none means the reader is broken"
    assert not problems, "imports of bento/service.py that ARCHITECTURE.md does not allow:\n" + "\n".join(problems)


LAYERS = _groups("errors → config → core → storage → pipeline → {review, serving} → monitoring → cli")


def _edge(importer: str, imported: str) -> Import:
    return Import(importer, imported, "fake.py:1")


def test_an_upward_import_is_reported_with_both_modules_and_the_rule() -> None:
    problems = broken_layer_rules([_edge("mlloop.core.schema", "mlloop.pipeline.data")], LAYERS)

    assert len(problems) == 1, problems
    assert problems[0].startswith("mlloop.core.schema -> mlloop.pipeline.data (fake.py:1): upward import"), problems
    assert "`core` may not import the higher layer `pipeline`" in problems[0], problems


def test_review_and_serving_may_not_import_each_other() -> None:
    edges = [_edge("mlloop.review.report", "mlloop.serving.contract"), _edge("mlloop.serving.smoke", "mlloop.review")]

    problems = broken_layer_rules(edges, LAYERS)

    assert len(problems) == 2, problems
    assert all("share a layer" in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("mlloop.core.schema", "mlloop.config"),
        ("mlloop.config", "mlloop.errors"),
        ("mlloop.monitoring.drift", "mlloop.pipeline.plots"),
        ("mlloop.monitoring.simulator", "mlloop.serving.inference_log"),
        ("mlloop.review.markdown", "mlloop.review.gate"),
        ("mlloop.cli", "mlloop.monitoring"),
    ],
)
def test_downward_and_same_package_imports_are_allowed(importer: str, imported: str) -> None:
    assert broken_layer_rules([_edge(importer, imported)], LAYERS) == []


@pytest.mark.parametrize(
    ("importer", "imported", "expected"),
    [
        ("mlloop.errors", "mlloop.config", "upward import"),
        ("mlloop.storage.files", "mlloop.cli", "upward import"),
        ("mlloop.plugins.extra", "mlloop.core", "`plugins` is in no layer"),
        ("mlloop", "mlloop.cli", "the package root is in no layer"),
    ],
)
def test_other_broken_rules_are_reported(importer: str, imported: str, expected: str) -> None:
    problems = broken_layer_rules([_edge(importer, imported)], LAYERS)

    assert len(problems) == 1, problems
    assert expected in problems[0], problems


def test_the_service_may_not_reach_past_serving_and_core() -> None:
    edges = [_edge("service", "mlloop.serving.contract"), _edge("service", "mlloop.storage.files")]

    problems = broken_service_rules(edges, frozenset({"serving", "core"}))

    assert problems == [
        "service -> mlloop.storage.files (fake.py:1): the service may import only core, serving, not `storage`"
    ]


def test_the_reader_finds_imports_in_functions_under_type_checking_relative_and_by_name(tmp_path: Path) -> None:
    package = tmp_path / PACKAGE
    for module in ("core/__init__.py", "core/schema.py", "pipeline/__init__.py", "pipeline/data.py", "cli.py"):
        (package / module).parent.mkdir(parents=True, exist_ok=True)
        (package / module).write_text("")
    (package / "core" / "schema.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import importlib\n"
        "if TYPE_CHECKING:\n"
        "    from mlloop.pipeline import data\n"
        "def late() -> None:\n"
        "    import mlloop.cli\n"
        "    importlib.import_module(f'mlloop.pipeline.{late}')\n"
        "from . import __name__ as itself\n"
        "from ..pipeline.data import x\n"
    )

    found = {(edge.imported, edge.where) for edge in package_imports(tmp_path, tmp_path)}

    assert found == {
        ("mlloop.pipeline.data", "mlloop/core/schema.py:4"),
        ("mlloop.cli", "mlloop/core/schema.py:6"),
        ("mlloop.pipeline", "mlloop/core/schema.py:7"),
        ("mlloop.core", "mlloop/core/schema.py:8"),
        ("mlloop.pipeline.data", "mlloop/core/schema.py:9"),
    }
