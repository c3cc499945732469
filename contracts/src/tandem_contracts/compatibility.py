"""BACKWARD_TRANSITIVE compatibility of the event schemas: today's readers read every released event.

A released schema is frozen under ``schemas/released/``. The current schema of the same event type is
compatible with it when a reader of the current schema can read any event written with the released
one: no field becomes required that was optional or absent, no field changes type, no enum loses a
value, and the same holds inside every nested definition. Removing a field is compatible: readers
ignore what they do not know.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _shape(node: Schema) -> set[str]:
    """The JSON shapes a schema node admits: 'string', 'null', 'string:uuid', '#Kpi', 'enum:x', ..."""
    if "$ref" in node:
        return {"#" + node["$ref"].rsplit("/", 1)[-1]}
    if "anyOf" in node:
        return set().union(*(_shape(option) for option in node["anyOf"]))
    if "enum" in node:
        return {f"enum:{value}" for value in node["enum"]}
    kind = node.get("type", "any")
    if kind == "array":
        items = node.get("items", {})
        prefix = node.get("prefixItems")
        inner = set().union(*(_shape(item) for item in prefix)) if prefix else _shape(items)
        return {f"array[{shape}]" for shape in inner} or {"array"}
    return {f"{kind}:{node['format']}" if "format" in node else kind}


def _object_problems(name: str, released: Schema, current: Schema) -> list[str]:
    problems = []
    released_props, current_props = released.get("properties", {}), current.get("properties", {})
    newly_required = set(current.get("required", ())) - set(released.get("required", ()))
    problems += [f"{name}.{field}: now required" for field in sorted(newly_required)]
    for field in sorted(set(released_props) & set(current_props)):
        lost = _shape(released_props[field]) - _shape(current_props[field])
        if lost:
            problems.append(f"{name}.{field}: no longer accepts {', '.join(sorted(lost))}")
    return problems


def problems(released: Schema, current: Schema) -> list[str]:
    """Why a reader of ``current`` could not read an event written with ``released`` (empty: compatible)."""
    found = _object_problems(released.get("title", "event"), released, current)
    current_defs = current.get("$defs", {})
    for name, definition in released.get("$defs", {}).items():
        if name not in current_defs:
            continue  # fields that used it have changed type, and that is reported above
        replacement = current_defs[name]
        if "enum" in definition:
            lost = set(definition["enum"]) - set(replacement.get("enum", ()))
            found += [f"{name}: lost the value {value!r}" for value in sorted(lost)]
        else:
            found += _object_problems(name, definition, replacement)
    return found
