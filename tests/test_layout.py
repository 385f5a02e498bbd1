"""The layout's rules, read from the source: which room may import which (docs/architecture.md)."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "visionary_app"
SERVICES = "visionary_app.services"

# Each service room and the rooms it may import: arrows only point down.
ROOMS = {
    "kit": set(),
    "access": {"kit"},
    "storage": {"kit"},
    "limits": {"kit", "access"},
    "gallery": {"kit", "access", "storage"},
    "generation": {"kit", "access", "storage", "limits", "gallery"},
    "webhooks": {"kit"},
    "studio": {"kit", "access", "storage", "limits", "gallery", "generation", "webhooks"},
}
# Layers above the services, and the ones each must never import.
NEVER = {
    "services": {"state", "components", "pages", "api", "visionary_app"},
    "api": {"state", "components", "pages"},
    "state": {"components", "pages"},
    "components": {"pages"},
}
# Settings are read by the services; two validators borrow a service's parser so that a bad
# setting stops the app when it starts. They import lazily, inside the validator.
SETTINGS_MAY_BORROW = {
    f"{SERVICES}.access.api_tokens",
    f"{SERVICES}.generation.providers.capabilities",
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "services" else None


MODULES = _modules()
KNOWN = {name for name, _ in MODULES}


def test_the_rules_see_every_room():
    rooms = {_room(name) for name in KNOWN if _room(name)}
    assert rooms == set(ROOMS), "a room was added or renamed: give it its arrows here"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[name for name, _ in MODULES])
def test_imports_point_down(module, path):
    imported = {name for name in _imports(path) if name.split(".")[0] in ("reflex", "rx")}
    layer = _layer(module)
    if layer == "services":
        assert not imported, f"{module} imports reflex: services are plain Python"
    for name in _imports(path):
        target = name if name in KNOWN else name.rpartition(".")[0]
        if target not in KNOWN:
            continue  # another package's module
        target_layer = _layer(target)
        assert target_layer not in NEVER.get(layer, set()), f"{module} imports {target}"
        room, target_room = _room(module), _room(target)
        if room and target_room and target_room != room:
            assert target_room in ROOMS[room], f"{module} ({room}) reaches up to {target}"
        if layer == "settings":
            assert target_layer != "services" or target in SETTINGS_MAY_BORROW, target


@pytest.mark.parametrize(
    ("module", "path"),
    [(name, path) for name, path in MODULES if _layer(name) in ("api", "state", "components")]
    + [(name, path) for name, path in MODULES if _layer(name) in ("pages", "visionary_app")],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_the_ui_and_routes_use_only_what_a_room_exports(module, path):
    for target in _imports(path):
        room = _room(target)
        if room is None or target not in KNOWN:
            continue
        assert target in (f"{SERVICES}.{room}", f"{SERVICES}.studio"), (
            f"{module} reaches into {target}: import it from {SERVICES}.{room}"
        )
