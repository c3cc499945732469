"""Every published event type, by its CloudEvents ``type``."""

from __future__ import annotations

from tandem_contracts.base import IntegrationEvent
from tandem_contracts.goals import GoalSet

EVENT_TYPES: dict[str, type[IntegrationEvent]] = {model.event_type: model for model in (GoalSet,)}
