"""Transcodings that let a domain model use plain dataclasses and dates in its events.

The domain stays free of infrastructure; the application registers these for the value types it names.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from eventsourcing.persistence import Transcoding


class DataclassAsDict(Transcoding):
    """A frozen dataclass stored as a dict of its fields (nested values are transcoded by their own types)."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = cls.__qualname__
        self._fields = tuple(field.name for field in dataclasses.fields(cls))

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


class DateAsISO(Transcoding):
    """A calendar date stored as YYYY-MM-DD."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def transcodings_for(value_types: tuple[type, ...]) -> list[Transcoding]:
    """The transcodings of a domain's dataclasses, plus dates.

    JSON stores a ``StrEnum`` member as its string; the domain turns it back into a member when it records.
    """
    found: list[Transcoding] = [DateAsISO()]
    for cls in value_types:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        found.append(DataclassAsDict(cls))
    return found
