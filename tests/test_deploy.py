"""The deployment recipe: the Dockerfile passes hadolint, Caddy accepts its Caddyfile, and the
compose file wires the same layout with settings the app knows.

No container registry is reachable from the test machines, so the images are not built here;
the layout itself runs under `tests/e2e/test_load_balanced.py` with the same Caddyfile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.app_server import ROOT
from tests.support.cluster import CADDYFILE, caddy_or_skip
from visionary_app.settings import Settings

HADOLINT = Path(sys.executable).with_name("hadolint")


def test_the_dockerfile_passes_hadolint_and_runs_unprivileged_with_a_health_check():
    done = subprocess.run(
        [str(HADOLINT), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    text = (ROOT / "Dockerfile").read_text()
    app_stage = text.split("AS app", 1)[1]
    assert "USER 10001:10001" in app_stage and "HEALTHCHECK" in app_stage
    assert "/healthz" in app_stage and "--backend-only" in app_stage


def test_caddy_accepts_the_caddyfile():
    caddy = caddy_or_skip("checking the Caddyfile")
    env = {**os.environ, "VISIONARY_BACKENDS": "127.0.0.1:8001 127.0.0.1:8002"}
    done = subprocess.run(
        [caddy, "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Valid configuration" in done.stdout + done.stderr


def test_the_compose_file_has_the_layout_and_only_settings_the_app_reads():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"app1", "app2", "proxy", "redis", "postgres", "azurite"} <= set(services)
    assert services["proxy"]["environment"]["VISIONARY_BACKENDS"] == "app1:8000 app2:8000"
    known = {
        alias.upper()
        for name, field in Settings.model_fields.items()
        for alias in [f"VISIONARY_{name}", *_aliases(field)]
    }
    for name in ("app1", "app2"):
        env = services[name]["environment"]
        assert env["REFLEX_REDIS_URL"].startswith("redis://")
        assert env["VISIONARY_DATABASE_URL"].startswith("postgresql+psycopg://")
        unknown = {k for k in env if k.startswith(("VISIONARY_", "AZURE_")) and k not in known}
        assert not unknown, unknown


def _aliases(field) -> list[str]:
    alias = field.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return [c for c in choices if isinstance(c, str)]
    return [alias] if isinstance(alias, str) else []
