"""The goal domain: goals, their links, and each employee's work plan. No infrastructure here."""

from tandem_goals.domain.cascade import CascadeLedger
from tandem_goals.domain.errors import *  # noqa: F403
from tandem_goals.domain.goal import REVISABLE_FIELDS, Goal
from tandem_goals.domain.values import *  # noqa: F403
from tandem_goals.domain.work_plan import WorkPlan

