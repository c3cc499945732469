"""The rules of the goal domain, each a named refusal that says which input is at fault and why."""

from __future__ import annotations


class GoalRuleBroken(ValueError):
    """A command the goal domain refuses; ``field`` names the input at fault, ``rule`` the rule."""

    field: str = ""
    rule: str = ""

    def __init__(self, message: str, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field
        if rule is not None:
            self.rule = rule


class MeasureDoesNotFitKind(GoalRuleBroken):
    rule = "measure_fits_kind"


class CadenceNotAllowed(GoalRuleBroken):
    field = "cadence"
    rule = "cadence_fits_kind"


class DueBeforeStart(GoalRuleBroken):
    field = "due_date"
    rule = "due_after_start"


class KpiTargetAgainstDirection(GoalRuleBroken):
    field = "kpi.target"
    rule = "target_follows_direction"


class RatingAboveScale(GoalRuleBroken):
    field = "behavioural_target.target_rating"
    rule = "rating_within_scale"


class StatusNotAllowed(GoalRuleBroken):
    field = "status"
    rule = "status_transition"


class ParentGoalNotFound(GoalRuleBroken):
    field = "parent_goal_id"
    rule = "parent_goal_exists"


class ParentGoalClosed(GoalRuleBroken):
    field = "parent_goal_id"
    rule = "parent_goal_open"


class ParentWouldCycle(GoalRuleBroken):
    field = "parent_goal_id"
    rule = "cascade_without_cycles"


class GoalAlreadyClosed(GoalRuleBroken):
    field = "goal_id"
    rule = "closed_goal_never_changes"


class NothingToRevise(GoalRuleBroken):
    field = "body"
    rule = "revision_changes_something"


class LinkMustServePerformance(GoalRuleBroken):
    rule = "development_serves_performance"


class LinkWouldRepeat(GoalRuleBroken):
    field = "performance_goal_id"
    rule = "no_duplicate_link"


class LinkTargetClosed(GoalRuleBroken):
    field = "performance_goal_id"
    rule = "no_link_to_closed_goal"


class LinkToAnotherEmployeesGoal(GoalRuleBroken):
    field = "performance_goal_id"
    rule = "other_employees_goal_is_organisation_or_team"


class RationaleIncomplete(GoalRuleBroken):
    rule = "rationale_complete"


class LinkNotFound(GoalRuleBroken):
    field = "link_id"
    rule = "link_exists"


class FinalValueMissing(GoalRuleBroken):
    field = "final_value"
    rule = "final_value_of_performance_goal"


class CapacityExceeded(GoalRuleBroken):
    field = "capacity.hours_per_month"
    rule = "development_hours_within_limit"


class EmployeeUnknown(GoalRuleBroken):
    field = "employee_id"
    rule = "employee_in_directory"


class EmployeeHasDeparted(GoalRuleBroken):
    field = "employee_id"
    rule = "employee_active"
