"""The bounds of every value that enters Tandem, over HTTP or Kafka, declared once.

Events and request bodies use these types, so the same value is refused the same way everywhere: a 422
naming the field and the rule at the HTTP edge, a dead letter on a topic. The JSON Schemas and the OpenAPI
documents show them.

- **Amounts** (KPI baseline, target and values, hours, budgets, ratings, weights): finite decimals of at
  most ``MAX_MAGNITUDE`` either way, with at most ``DECIMAL_PLACES`` places.
- **Counts** (sessions, minutes, raters): integers from 0 to ``MAX_COUNT``.
- **Days** (start, due, held on, obtained on, departed on): from ``EARLIEST_DAY`` to ``LATEST_DAY``.
- **Ids** of people: letters and digits of any script, and ``. _ - @ +``, starting with a letter, digit or ``_``;
  tenants: ASCII letters, digits and ``. _ -``. Never ``:``, which separates them in the Kafka key
  ``tenant:employee``, nor spaces, control or formatting characters (a right-to-left override, say).
- **Text**: no control characters but tab, line feed and carriage return (PostgreSQL cannot store NUL).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

MAX_MAGNITUDE = Decimal("1e12")
DECIMAL_PLACES = 6
MAX_COUNT = 1_000_000
EARLIEST_DAY = date(1990, 1, 1)
LATEST_DAY = date(2099, 12, 31)
MAX_HOURS_PER_MONTH = Decimal(744)  # 31 days of 24 hours
MAX_RATING_SCALE = Decimal(100)
MAX_LIST = 200  # items of a list inside one event or request (entries, certifications, results, ...)

ID_PATTERN = r"^\w[\w.@+\-]*$"
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
ID_MAX_LENGTH = 128
TENANT_MAX_LENGTH = 64

Amount = Annotated[
    Decimal,
    Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE, decimal_places=DECIMAL_PLACES, allow_inf_nan=False),
]
"""A finite decimal within ±10^12, with at most six decimal places."""

NonNegativeAmount = Annotated[
    Decimal, Field(ge=0, le=MAX_MAGNITUDE, decimal_places=DECIMAL_PLACES, allow_inf_nan=False)
]
"""An amount of zero or more."""

PositiveAmount = Annotated[
    Decimal, Field(gt=0, le=MAX_MAGNITUDE, decimal_places=DECIMAL_PLACES, allow_inf_nan=False)
]
"""An amount of more than zero."""

Hours = Annotated[Decimal, Field(ge=0, le=MAX_HOURS_PER_MONTH, decimal_places=2, allow_inf_nan=False)]
"""Hours in a month (or one activity): 0 to 744, in hundredths."""

Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=DECIMAL_PLACES, allow_inf_nan=False)]
"""A share from 0 to 100."""

Rating = Annotated[Decimal, Field(ge=0, le=MAX_RATING_SCALE, decimal_places=2, allow_inf_nan=False)]
"""A rating on a scale of at most 100, in hundredths."""

RatingScale = Annotated[Decimal, Field(gt=0, le=MAX_RATING_SCALE, decimal_places=2, allow_inf_nan=False)]
"""The top of a rating scale: more than 0, at most 100."""

Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
"""A whole number from 0 to 1,000,000."""

PositiveCount = Annotated[int, Field(ge=1, le=MAX_COUNT)]
"""A whole number from 1 to 1,000,000."""

_DAY_RANGE: dict[str, Any] = {"formatMinimum": EARLIEST_DAY.isoformat(), "formatMaximum": LATEST_DAY.isoformat()}

Day = Annotated[
    date,
    Field(
        ge=EARLIEST_DAY,
        le=LATEST_DAY,
        description=f"A day from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}.",
        json_schema_extra=_DAY_RANGE,
    ),
]
"""A calendar day within the window goals live in."""

PersonId = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
"""The id of an employee, manager, mentor or other actor: letters and digits of any script and ``._-@+``."""

TenantId = Annotated[str, Field(min_length=1, max_length=TENANT_MAX_LENGTH, pattern=TENANT_PATTERN)]
"""The id of an organisation: letters, digits and ``._-``, no ``:``."""

Label = Annotated[str, Field(min_length=1, max_length=32, pattern=TENANT_PATTERN)]
"""A short code such as a goal cycle (``2026``, ``2026-H1``)."""


def text(max_length: int, *, min_length: int = 0) -> Any:
    """Free text of at most ``max_length`` characters, without control characters but tab and line breaks."""
    return Field(min_length=min_length, max_length=max_length, pattern=TEXT_PATTERN)


Title = Annotated[str, text(200, min_length=1)]
"""A title, name, skill or competency: 1 to 200 characters."""

Note = Annotated[str, text(4000)]
"""Free text written about someone: at most 4,000 characters."""

Code = Annotated[str, text(64, min_length=1)]
"""A short code: a unit, a currency, a cost centre."""
