"""The layout is the architecture: imports only point down the layers of ``rotation``.

    faces     (rotation/faces)     parse a request, call the service, format its outcome
    service   (rotation/service)   one run, each secret's steps, the lease, the sweep, wiring
    adapters  (rotation/adapters)  Secret Manager, Momento, budgets, credentials, the log
    rules     (rotation/rules)     the core: pure, no I/O

Every import counts, at module level, inside a function or under ``TYPE_CHECKING``: a lazy
import is still a dependency. ``momento_key_common`` sits below them all, shared with the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "rotation"
LAYERS = ("rules", "adapters", "service", "faces")  # bottom to top
# The clients and frameworks that do I/O: the core must know none of them.
IO_LIBRARIES = ("google", "grpc", "momento", "momento_wire_types", "flask", "functions_framework")


def layer_of(module: str) -> int:
    """The layer's height: rules 0 ... faces 3; the package root (``python -m rotation``) is
    above them all, and ``momento_key_common`` below."""
    parts = module.split(".")
    if parts[0] == "momento_key_common":
        return -1
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return len(LAYERS)


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, resolved to absolute names."""
    found: list[tuple[int, str]] = []
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # "from rotation.service import lease" imports the submodule rotation.service.lease,
            # and "from rotation import service" only the package rotation.service: each name
            # counts, as a submodule or as a name of the package it is taken from.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            if base != PACKAGE.name:  # the root package holds no names, only its layers
                found.append((node.lineno, base))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(REPO)))
def test_imports_only_point_down_the_layers(path):
    own = layer_of(module_name(path))
    upward = [
        f"line {line}: {target}"
        for line, target in imports(path)
        if target.split(".")[0] in ("rotation", "momento_key_common") and layer_of(target) > own
    ]
    assert not upward, f"{module_name(path)} imports a layer above it: {upward}"


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "rules").rglob("*.py")), ids=lambda path: path.name
)
def test_the_core_rules_import_no_client_or_framework(path):
    doing_io = [
        f"line {line}: {target}"
        for line, target in imports(path)
        if target.split(".")[0] in IO_LIBRARIES
    ]
    assert not doing_io, f"{module_name(path)} imports I/O: {doing_io}"


def test_the_shared_package_imports_nothing_of_the_function():
    for path in sorted((REPO / "momento_key_common").rglob("*.py")):
        assert not [t for _, t in imports(path) if t.split(".")[0] == "rotation"], path


def test_the_package_root_holds_only_its_entry():
    """Every module lives in its layer's folder; the root keeps ``python -m rotation``."""
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "__main__.py"]
    assert sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()) == sorted(
        LAYERS
    )
