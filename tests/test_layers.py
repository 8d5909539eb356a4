"""The package's folders are its layers, and imports run one way: language <- nn <- engine <- evidence <- display, with the
synthetic tasks beside them. A module may import its own layer and the layers below; the top-level modules
(the public names, the command line) may import anything."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cbam_helpers"
BELOW = {
    "language": set(),
    "nn": {"language"},
    "engine": {"language", "nn"},
    "evidence": {"language", "nn", "engine"},
    "display": {"language", "nn", "engine", "evidence"},
    "synthetic": {"language", "nn", "engine", "evidence", "display"},
}
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def imported_layers(source, path=None):
    """The layers of ``cbam_helpers`` that the module at ``source`` imports, at the top or inside a function;
    relative imports are resolved as if it sat at ``path`` (its own place by default)."""
    path = path or source
    layers = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom):
            folder = path.parent.relative_to(PACKAGE).parts
            here = ("cbam_helpers", *folder[:len(folder) + 1 - node.level]) if node.level else ()
            names = [".".join((*here, node.module or ""))]
            names += [f"{names[0]}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "cbam_helpers":
                layers.add(parts[1] if len(parts) > 1 else "")
    return layers


def test_every_module_sits_in_a_layer():
    assert {p.parent.name for p in MODULES} == set(BELOW)
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "__main__.py", "cli.py"]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_imports_run_one_way(path):
    layer = path.parent.name
    allowed = BELOW[layer] | {layer}
    assert imported_layers(path) <= allowed, f"{layer}/{path.name} imports {imported_layers(path) - allowed}"


def test_the_check_sees_a_back_edge_inside_a_function_and_a_relative_one(tmp_path):
    module = PACKAGE / "nn" / "mobilenet.py"  # its path only: the text is written here
    text = "def f():\n    from cbam_helpers.display.tables import show\n    from ..evidence import analysis\n"
    written = tmp_path / "mobilenet.py"
    written.write_text(text)
    assert imported_layers(written, module) == {"display", "evidence"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_fits_on_a_few_screens(path):
    assert len(path.read_text().splitlines()) <= 315  # about 300
