"""The rules of the review domain, each a named refusal naming the input at fault."""

from __future__ import annotations


class ReviewRuleBroken(ValueError):
    """A review command the domain refuses; ``field`` names the input at fault, ``rule`` the rule."""

    rule: str = ""

    def __init__(self, message: str, field: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if rule is not None:
            self.rule = rule


class ReviewAlreadyCompleted(ReviewRuleBroken):
    rule = "completed_review_never_changes"


class StepMissing(ReviewRuleBroken):
    rule = "all_three_steps_before_completing"


class GoalNotReviewable(ReviewRuleBroken):
    rule = "goal_of_the_employee_in_the_cycle"


class PlanIncomplete(ReviewRuleBroken):
    rule = "planned_goal_is_smart_and_aligned"
