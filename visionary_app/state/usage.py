"""The usage page: what was spent, by day and by who and what; admins see everyone's."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import reflex as rx

from visionary_app.services.limits import QueueUnavailable, SpendReport, format_usd
from visionary_app.services.studio import get_studio
from visionary_app.state.visitor import viewer_of

logger = logging.getLogger(__name__)


def _rows(rows: list[tuple[str, int]]) -> list[list[str]]:
    return [[key, format_usd(micros)] for key, micros in rows[:20]]


class UsageState(rx.State):
    """One report at a time, read when the page opens (the last 30 days)."""

    everyone: bool = False
    total: str = ""
    days: list[dict] = []  # {"day": "2026-12-04", "usd": 0.12}, for the chart
    by_user: list[list[str]] = []
    by_team: list[list[str]] = []
    by_provider: list[list[str]] = []
    by_model: list[list[str]] = []
    unavailable: bool = False

    async def _report(self) -> tuple[SpendReport, bool] | None:
        viewer = await viewer_of(self)
        try:
            report = await get_studio().spend.report(
                owner=None if viewer.admin else viewer.owner, now=datetime.now(UTC)
            )
        except QueueUnavailable as exc:
            logger.error("reading the spend failed: %s", exc)
            return None
        return report, viewer.admin

    @rx.event
    async def load(self):
        """Read the report for this viewer (decided on the server: an admin sees everyone's)."""
        found = await self._report()
        self.unavailable = found is None
        if found is None:
            return
        report, self.everyone = found
        self.total = format_usd(report.total)
        self.days = [{"day": day[5:], "usd": round(micros / 1e6, 4)} for day, micros in report.days]
        self.by_user, self.by_team = _rows(report.by_user), _rows(report.by_team)
        self.by_provider, self.by_model = _rows(report.by_provider), _rows(report.by_model)

    @rx.event
    async def download_csv(self):
        """The same figures as a CSV file."""
        found = await self._report()
        if found is None:
            return rx.toast.error("The spend cannot be read right now; try again.")
        return rx.download(data=found[0].csv(), filename="usage.csv")
