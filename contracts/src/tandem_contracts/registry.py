"""Every published event type, by its CloudEvents ``type``."""

from __future__ import annotations

from tandem_contracts.base import IntegrationEvent
from tandem_contracts.checkins import CheckInOverdue, CheckInRecorded, CheckInScheduled
from tandem_contracts.directory import EmployeeDeparted, EmployeeUpserted
from tandem_contracts.goals import GoalClosed, GoalLinked, GoalRevised, GoalSet, GoalUnlinked
from tandem_contracts.reviews import ReviewCompleted

EVENT_TYPES: dict[str, type[IntegrationEvent]] = {
    model.event_type: model
    for model in (
        GoalSet,
        GoalRevised,
        GoalLinked,
        GoalUnlinked,
        GoalClosed,
        CheckInRecorded,
        CheckInOverdue,
        CheckInScheduled,
        ReviewCompleted,
        EmployeeUpserted,
        EmployeeDeparted,
    )
}
