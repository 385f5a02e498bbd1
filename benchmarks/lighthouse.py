"""Lighthouse on the studio page with a gallery of images, mobile defaults, as users get it.

Starts the production app on a fresh data directory, stores some images in it, and runs
Lighthouse 12 (from the npm registry) in Debian's Chromium with its default mobile emulation
and simulated throttling. Prints the four category scores and the metrics Lighthouse names.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
from pathlib import Path

from tests.support.app_server import ROOT, run_app
from tests.support.seeding import store_images

LIGHTHOUSE = ROOT / ".tools/lighthouse/node_modules/.bin/lighthouse"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
TARGETS = {"performance": 90, "accessibility": 100, "best-practices": 95, "seo": 95}
_METRICS = (
    "first-contentful-paint",
    "largest-contentful-paint",
    "total-blocking-time",
    "cumulative-layout-shift",
    "speed-index",
)


def _lighthouse(url: str, out: Path) -> dict:
    if not LIGHTHOUSE.exists():
        subprocess.run(["make", "-s", "-C", str(ROOT), str(LIGHTHOUSE)], check=True)
    subprocess.run(
        [
            str(LIGHTHOUSE),
            url,
            "--output=json",
            f"--output-path={out}",
            "--quiet",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu "
            "--disable-background-networking --disable-component-update --no-first-run",
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        check=True,
        timeout=300,
    )
    return json.loads(out.read_text())


def run(images: int, runs: int, log) -> dict:
    """Scores of `runs` Lighthouse runs (the median run is reported) against the targets."""
    work = Path(tempfile.mkdtemp(prefix="bench-lighthouse-"))
    env = {"VISIONARY_IMAGE_SIZE": "1024x1024"}
    reports = []
    with run_app(work, env) as app:
        prompts = [f"a lighthouse on a cliff at dusk, study {index}" for index in range(images)]
        asyncio.run(store_images(app.env, prompts))
        for index in range(runs):
            report = _lighthouse(f"{app.url}/", work / f"report-{index}.json")
            scores = {
                key: round((category["score"] or 0) * 100)
                for key, category in report["categories"].items()
            }
            metrics = {key: report["audits"][key]["displayValue"] for key in _METRICS}
            log(f"run {index + 1}: {scores} {metrics}")
            failing = [
                f"{audit['id']}: {audit['title']}"
                for audit in report["audits"].values()
                if audit.get("score") is not None
                and audit["score"] < 1
                and audit.get("scoreDisplayMode") in ("binary", "metricSavings")
            ]
            reports.append((scores, metrics, failing))
    reports.sort(key=lambda item: item[0]["performance"])
    scores, metrics, failing = reports[len(reports) // 2]
    for line in failing:
        log(f"  not perfect: {line}")
    return {
        "benchmark": "lighthouse",
        "images": images,
        "runs": runs,
        "scores": scores,
        "metrics": metrics,
        "targets": TARGETS,
        "target_met": all(scores[key] >= target for key, target in TARGETS.items()),
    }
