"""Transcodings that let a domain model use plain dataclasses and dates in its events.

The domain stays free of infrastructure; the application registers these for the value types it names.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoding, TranscodingNotRegisteredError


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


class _LeftToTheStandardEncoder(Exception):
    """A value orjson would write otherwise than the standard library's encoder (a float that is not finite)."""


class OrjsonEncodingTranscoder(JSONTranscoder):
    """The JSON transcoder's stored format, written by orjson: the same tagged values, ``{"_type_": name,
    "_data_": encoded}``, so what either writes the other reads; events are read back as before.

    The standard encoder calls back into Python for every value it cannot write itself (each UUID, date,
    decimal and dataclass of an event): a goal's event took 26 µs to encode that way, a fifth of a cascade's
    time. Here one walk tags those values and orjson writes the result. Whatever orjson cannot write as the
    standard encoder would (integers beyond 64 bits, non-finite floats) is left to the standard encoder.
    """

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._tagged(obj), option=orjson.OPT_NON_STR_KEYS)
        except (_LeftToTheStandardEncoder, orjson.JSONEncodeError):
            return super().encode(obj)

    def _tagged(self, value: Any) -> Any:
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            return value
        transcoding = self.types.get(kind)
        if transcoding is not None:
            return {"_type_": transcoding.name, "_data_": self._tagged(transcoding.encode(value))}
        if isinstance(value, float):
            if not math.isfinite(value):
                raise _LeftToTheStandardEncoder
            return value
        if isinstance(value, (str, int)):
            return value  # a StrEnum or IntEnum member: its value, as the standard encoder writes it
        if isinstance(value, dict):
            return {key: self._tagged(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._tagged(item) for item in value]
        raise TranscodingNotRegisteredError(
            f"Object of type {kind} is not serializable. Please define and register a custom transcoding for this type."
        )
