"""Write, check and release the committed JSON Schemas of every event type.

``tandem-contracts write`` regenerates ``schemas/<type>.json``. ``tandem-contracts check`` fails when
the committed files differ from the models, or when a model can no longer read an event written with
any released schema (BACKWARD_TRANSITIVE); CI runs both as tests. ``tandem-contracts release`` freezes
the current schemas under ``schemas/released/<type>/<n>.json`` once they are published.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tandem_contracts import compatibility
from tandem_contracts.envelope import dataschema_for
from tandem_contracts.registry import EVENT_TYPES

SCHEMA_DIR = Path(__file__).parent / "schemas"
RELEASED_DIR = SCHEMA_DIR / "released"


def render_schemas() -> dict[str, str]:
    """The JSON Schema text of every event type, keyed by file name."""
    rendered = {}
    for event_type, model in sorted(EVENT_TYPES.items()):
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = dataschema_for(event_type)
        schema["x-tandem-topic"] = model.topic
        rendered[f"{event_type}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


def differences(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that are missing, stale or no longer generated."""
    rendered = render_schemas()
    committed = {path.name for path in directory.glob("*.json")} if directory.exists() else set()  # released/ is apart
    stale = [
        name
        for name, text in rendered.items()
        if name not in committed or (directory / name).read_text() != text
    ]
    orphaned = sorted(committed - rendered.keys())
    return sorted(stale) + orphaned


def released(directory: Path = RELEASED_DIR) -> dict[str, list[tuple[int, dict]]]:
    """Every released schema, by event type, oldest first."""
    found: dict[str, list[tuple[int, dict]]] = {}
    for folder in sorted(directory.glob("*")) if directory.exists() else ():
        versions = sorted((int(path.stem), json.loads(path.read_text())) for path in folder.glob("*.json"))
        found[folder.name] = versions
    return found


def incompatibilities(directory: Path = RELEASED_DIR) -> list[str]:
    """Why a current model could not read an event written with a released schema (empty: all compatible)."""
    current = {event_type: model.model_json_schema(mode="serialization") for event_type, model in EVENT_TYPES.items()}
    found = []
    for event_type, versions in released(directory).items():
        if event_type not in current:
            found.append(f"{event_type}: released, but no model reads it any more (upcast it, do not drop it)")
            continue
        for number, schema in versions:
            found += [f"{event_type} (release {number}): {problem}" for problem in compatibility.problems(schema, current[event_type])]
    return found


def release(directory: Path = RELEASED_DIR) -> list[str]:
    """Freeze every schema that differs from its last release; refuse if any is incompatible."""
    stale = incompatibilities(directory)
    if stale:
        raise SystemExit("incompatible with a released schema:\n" + "\n".join(stale))
    written = []
    known = released(directory)
    for event_type, model in sorted(EVENT_TYPES.items()):
        schema = model.model_json_schema(mode="serialization")
        versions = known.get(event_type, [])
        if versions and versions[-1][1] == schema:
            continue
        number = versions[-1][0] + 1 if versions else 1
        path = directory / event_type / f"{number}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(str(path))
    return written


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    """Write every schema; return the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render_schemas()
    for name, text in rendered.items():
        (directory / name).write_text(text)
    return sorted(rendered)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tandem-contracts", description=__doc__)
    parser.add_argument("command", choices=("write", "check", "release"))
    args = parser.parse_args(argv)
    if args.command == "write":
        for name in write():
            print(f"wrote {SCHEMA_DIR / name}")
        return 0
    if args.command == "release":
        for path in release():
            print(f"released {path}")
        return 0
    stale = differences()
    for name in stale:
        print(f"schema differs from its model: {name} (run: tandem-contracts write)")
    broken = incompatibilities()
    for problem in broken:
        print(f"incompatible: {problem}")
    return 1 if stale or broken else 0


if __name__ == "__main__":
    sys.exit(main())
