"""Write or check the committed JSON Schemas of every event type.

``tandem-contracts write`` regenerates ``schemas/<type>.json``; ``tandem-contracts check`` fails when
the committed files differ from the models (CI runs the check as a test).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tandem_contracts.envelope import dataschema_for
from tandem_contracts.registry import EVENT_TYPES

SCHEMA_DIR = Path(__file__).parent / "schemas"


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
    committed = {path.name for path in directory.glob("*.json")} if directory.exists() else set()
    stale = [
        name
        for name, text in rendered.items()
        if name not in committed or (directory / name).read_text() != text
    ]
    orphaned = sorted(committed - rendered.keys())
    return sorted(stale) + orphaned


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    """Write every schema; return the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render_schemas()
    for name, text in rendered.items():
        (directory / name).write_text(text)
    return sorted(rendered)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tandem-contracts", description=__doc__)
    parser.add_argument("command", choices=("write", "check"))
    args = parser.parse_args(argv)
    if args.command == "write":
        for name in write():
            print(f"wrote {SCHEMA_DIR / name}")
        return 0
    stale = differences()
    for name in stale:
        print(f"schema differs from its model: {name} (run: tandem-contracts write)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
