"""The layout's rules, read from the source: which room may import which (docs/architecture.md)."""

import ast
import os
import subprocess
import sys
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


def test_a_worker_loads_a_providers_or_azures_sdk_only_when_it_is_configured(tmp_path):
    # Each SDK costs every worker 8-33 MB of memory; the offline studio needs none of them.
    script = (
        "import sys\n"
        "import visionary_app.visionary_app\n"
        "from visionary_app.services.studio import get_studio\n"
        "assert get_studio().is_offline\n"
        "sdks = ('openai', 'azure.storage.blob', 'azure.identity', 'replicate', 'google.genai')\n"
        "print('loaded:', ','.join(name for name in sdks if name in sys.modules))\n"
    )
    configured = ("VISIONARY_", "AZURE_", "OPENAI_", "GEMINI_", "GOOGLE_", "REPLICATE_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(configured)}
    env["VISIONARY_DATA_DIR"] = str(tmp_path)
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=APP.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[-1:] == ["loaded: "], run.stdout
