"""What may be spent: cost limits on images and on other paid calls, checked in the database."""

from visionary_app.services.limits.budgets import BudgetLeft, Budgets
from visionary_app.services.limits.image_limits import (
    JobLimits,
    LimitReached,
    QueueUnavailable,
    describe_wait,
)
from visionary_app.services.limits.prices import Pricing, format_usd, load_prices
from visionary_app.services.limits.spend import SpendLedger, SpendReport
from visionary_app.services.limits.usage import UsageMeter

__all__ = [
    "BudgetLeft",
    "Budgets",
    "JobLimits",
    "LimitReached",
    "Pricing",
    "QueueUnavailable",
    "SpendLedger",
    "SpendReport",
    "UsageMeter",
    "describe_wait",
    "format_usd",
    "load_prices",
]
