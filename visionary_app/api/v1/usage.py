"""Usage: what was spent, by day, user, team, provider and model (admins: everyone's)."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from visionary_app.api.v1.auth import CurrentStudio, Reader
from visionary_app.api.v1.errors import answers, unavailable
from visionary_app.services.limits import QueueUnavailable, SpendReport

__all__ = ["router"]

router = APIRouter()


class Amount(BaseModel):
    """One figure of a breakdown, in US dollars."""

    key: str
    usd: float


class UsageOut(BaseModel):
    """Spend since `since` (UTC days); admins see everyone's, others their own."""

    since: datetime
    everyone: bool
    total_usd: float
    days: list[Amount]
    by_user: list[Amount]
    by_team: list[Amount]
    by_provider: list[Amount]
    by_model: list[Amount]


def _amounts(rows: list[tuple[str, int]]) -> list[Amount]:
    return [Amount(key=key, usd=micros / 1_000_000) for key, micros in rows]


def usage_out(report: SpendReport, *, everyone: bool) -> UsageOut:
    """The report as the API answers it."""
    return UsageOut(
        since=report.since, everyone=everyone, total_usd=report.total / 1_000_000,
        days=_amounts(report.days), by_user=_amounts(report.by_user),
        by_team=_amounts(report.by_team), by_provider=_amounts(report.by_provider),
        by_model=_amounts(report.by_model),
    )  # fmt: skip


@router.get(
    "/usage",
    response_model=UsageOut,
    responses={
        200: {"content": {"text/csv": {}}, "description": "As JSON, or CSV with format=csv"},
        **answers(401, 403, 422, 503),
    },
    summary="What was spent, by day, user, team, provider and model",
)
async def read_usage(
    holder: Reader,
    studio: CurrentStudio,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    format: Literal["json", "csv"] = "json",
):
    everyone = holder.viewer.admin
    try:
        report = await studio.spend.report(
            owner=None if everyone else holder.owner, now=datetime.now(UTC), days=days
        )
    except QueueUnavailable as exc:
        raise unavailable("The spend cannot be read right now; try again.") from exc
    if format == "csv":
        attachment = {"Content-Disposition": 'attachment; filename="usage.csv"'}
        return Response(report.csv(), media_type="text/csv", headers=attachment)
    return usage_out(report, everyone=everyone)
