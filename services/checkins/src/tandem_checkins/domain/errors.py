"""The rules of the check-in domain, each a named refusal naming the input at fault."""

from __future__ import annotations


class CheckInRuleBroken(ValueError):
    """A check-in the domain refuses; ``field`` names the input at fault, ``rule`` the rule."""

    rule: str = ""

    def __init__(self, message: str, field: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if rule is not None:
            self.rule = rule


class CheckInDatedInFuture(CheckInRuleBroken):
    rule = "held_on_not_in_future"


class GoalNotCheckable(CheckInRuleBroken):
    rule = "goal_known_open_and_owned"


class EntryDoesNotFitGoal(CheckInRuleBroken):
    rule = "entry_fits_goal_kind"


class WrongUnit(CheckInRuleBroken):
    rule = "kpi_in_goal_unit"


class ValueOutOfRange(CheckInRuleBroken):
    rule = "value_in_range"


class EmployeeHasDeparted(CheckInRuleBroken):
    rule = "employee_active"
