"""Standing rules of the code base that a test can guard."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tui_recs"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_textual():
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if "app" not in path.relative_to(PACKAGE).parts
        and any(name == "textual" or name.startswith("textual.") for name in _imported_modules(path))
    ]
    assert offenders == [], f"core modules import textual: {offenders}"


def test_importing_the_core_does_not_load_heavy_libraries():
    code = (
        "import sys, tui_recs, tui_recs.data, tui_recs.errors, tui_recs.cli;"
        "print(sorted(m for m in ('numba', 'pandas', 'scipy', 'annoy', 'textual') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_command_line_starts_without_numpy():
    """Parsing arguments loads no numerical library: ``--help`` and usage errors are instant,
    and the app can still cap the BLAS threads before numpy starts its pool."""
    code = ("import sys, tui_recs.cli; tui_recs.cli.build_parser().parse_args(['info']);"
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_import_contracts_hold():
    """The layering of pyproject.toml's [tool.importlinter] contracts (core below the front
    ends, models below cache/data/index, views above nothing of the app's main module)."""
    from importlinter.cli import lint_imports

    config = PACKAGE.parent / "pyproject.toml"
    assert lint_imports(config_filename=str(config), no_cache=True) == 0


def test_no_module_of_the_package_imports_itself_back():
    """No import cycle, type-checking imports aside: every dependency reads one way."""
    import grimp

    graph = grimp.build_graph("tui_recs", exclude_type_checking_imports=True)
    cycles = sorted(
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported in graph.modules and imported != importer
        and graph.chain_exists(importer=imported, imported=importer))
    assert cycles == [], f"import cycles through: {cycles}"
