"""The facts the read side keeps: what each topic said, stored so that arrival order does not matter.

Each table holds one kind of fact keyed by its own id, so a check-in can land before its goal, or a link
before the goal it points at, and nothing is lost: the employee cards that join the facts are recomputed
from them (see ``cards``). A goal's own events are applied in version order; one that arrives ahead of an
earlier one waits in ``rm_pending_goal_events`` until the gap fills. Directory events carry no version,
so the latest ``occurred_at`` wins, profile and departure each on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

from tandem_contracts.checkins import CheckInOverdue, CheckInRecorded, CheckInScheduled
from tandem_contracts.directory import EmployeeDeparted, EmployeeUpserted
from tandem_contracts.goals import GoalClosed, GoalLinked, GoalRevised, GoalSet, GoalUnlinked
from tandem_contracts.reviews import ReviewCompleted
from tandem_runtime.database import Cursor, insert_rows

CHUNK = 500  # ids per IN (...) query: under SQLite's parameter limit

Employee = tuple[str, str]  # (tenant_id, employee_id)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rm_people ("
    " tenant_id TEXT NOT NULL, employee_id TEXT NOT NULL, display_name TEXT, manager_id TEXT, department TEXT,"
    " job_title TEXT, email TEXT, profile_at TEXT, departed_on TEXT, departed_at TEXT,"
    " PRIMARY KEY (tenant_id, employee_id))",
    "CREATE INDEX IF NOT EXISTS rm_people_by_manager ON rm_people (tenant_id, manager_id)",
    "CREATE TABLE IF NOT EXISTS rm_goals ("
    " tenant_id TEXT NOT NULL, goal_id TEXT NOT NULL, employee_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " status TEXT NOT NULL, cycle TEXT NOT NULL, level TEXT NOT NULL, parent_goal_id TEXT, title TEXT NOT NULL,"
    " version BIGINT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (tenant_id, goal_id))",
    "CREATE INDEX IF NOT EXISTS rm_goals_by_employee ON rm_goals (tenant_id, employee_id)",
    "CREATE TABLE IF NOT EXISTS rm_links ("
    " tenant_id TEXT NOT NULL, link_id TEXT NOT NULL, development_goal_id TEXT NOT NULL,"
    " development_owner_id TEXT NOT NULL, performance_goal_id TEXT NOT NULL, performance_owner_id TEXT NOT NULL,"
    " rationale TEXT NOT NULL, skill TEXT, evidence TEXT, future_role TEXT, linked_on TEXT NOT NULL,"
    " PRIMARY KEY (tenant_id, link_id))",
    "CREATE INDEX IF NOT EXISTS rm_links_by_development_owner ON rm_links (tenant_id, development_owner_id)",
    "CREATE INDEX IF NOT EXISTS rm_links_by_performance_owner ON rm_links (tenant_id, performance_owner_id)",
    # Every batch asks which links touch its goals (``linked_owners``): without these, each batch scans them all.
    "CREATE INDEX IF NOT EXISTS rm_links_by_development_goal ON rm_links (tenant_id, development_goal_id)",
    "CREATE INDEX IF NOT EXISTS rm_links_by_performance_goal ON rm_links (tenant_id, performance_goal_id)",
    "CREATE TABLE IF NOT EXISTS rm_kpi_checkins ("
    " tenant_id TEXT NOT NULL, goal_id TEXT NOT NULL, checkin_id TEXT NOT NULL, employee_id TEXT NOT NULL,"
    " held_on TEXT NOT NULL, kpi_value TEXT NOT NULL, unit TEXT NOT NULL, status TEXT NOT NULL,"
    " roadblocks TEXT NOT NULL, resources_needed TEXT NOT NULL,"
    # Keyed in the order cards read them: a goal's latest check-ins are the end of its key range. A check-in's
    # date never changes, so the key is still unique by check-in.
    " PRIMARY KEY (tenant_id, goal_id, held_on, checkin_id)){clustered}",
    "CREATE TABLE IF NOT EXISTS rm_development_checkins ("
    " tenant_id TEXT NOT NULL, goal_id TEXT NOT NULL, checkin_id TEXT NOT NULL, employee_id TEXT NOT NULL,"
    " held_on TEXT NOT NULL, entry TEXT NOT NULL,"
    " PRIMARY KEY (tenant_id, goal_id, checkin_id)){clustered}",
    "CREATE TABLE IF NOT EXISTS rm_missed_checkins ("
    " tenant_id TEXT NOT NULL, goal_id TEXT NOT NULL, period_end TEXT NOT NULL, employee_id TEXT NOT NULL,"
    " period_start TEXT NOT NULL, PRIMARY KEY (tenant_id, goal_id, period_end))",
    # Each goal's schedule as the check-ins service last published it: the latest version wins.
    "CREATE TABLE IF NOT EXISTS rm_checkin_schedules ("
    " tenant_id TEXT NOT NULL, goal_id TEXT NOT NULL, employee_id TEXT NOT NULL, version BIGINT NOT NULL,"
    " due_on TEXT NOT NULL, PRIMARY KEY (tenant_id, goal_id))",
    "CREATE TABLE IF NOT EXISTS rm_reviews ("
    " tenant_id TEXT NOT NULL, review_id TEXT NOT NULL, employee_id TEXT NOT NULL, cycle TEXT NOT NULL,"
    " corrects_review_id TEXT, completed_at TEXT NOT NULL, document TEXT NOT NULL,"
    " PRIMARY KEY (tenant_id, review_id))",
    "CREATE INDEX IF NOT EXISTS rm_reviews_by_employee ON rm_reviews (tenant_id, employee_id, cycle)",
    "CREATE TABLE IF NOT EXISTS rm_pending_goal_events ("
    " tenant_id TEXT NOT NULL, goal_id TEXT NOT NULL, version BIGINT NOT NULL, employee_id TEXT NOT NULL,"
    " event_type TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (tenant_id, goal_id, version))",
)

GOAL_COLUMNS = ("tenant_id", "goal_id", "employee_id", "kind", "status", "cycle", "level", "parent_goal_id", "title",
                "version", "document")
_GOAL_NEWER = (
    "ON CONFLICT (tenant_id, goal_id) DO UPDATE SET"
    " employee_id = excluded.employee_id, kind = excluded.kind, status = excluded.status, cycle = excluded.cycle,"
    " level = excluded.level, parent_goal_id = excluded.parent_goal_id, title = excluded.title,"
    " version = excluded.version, document = excluded.document"
    " WHERE rm_goals.version < excluded.version"
)
_INSERT_LINK = (
    "INSERT INTO rm_links (tenant_id, link_id, development_goal_id, development_owner_id, performance_goal_id,"
    " performance_owner_id, rationale, skill, evidence, future_role, linked_on)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, link_id) DO NOTHING"
)
KPI_CHECKIN_COLUMNS = ("tenant_id", "goal_id", "checkin_id", "employee_id", "held_on", "kpi_value", "unit", "status",
                       "roadblocks", "resources_needed")
DEVELOPMENT_CHECKIN_COLUMNS = ("tenant_id", "goal_id", "checkin_id", "employee_id", "held_on", "entry")
MISSED_COLUMNS = ("tenant_id", "goal_id", "period_end", "employee_id", "period_start")
SCHEDULE_COLUMNS = ("tenant_id", "goal_id", "employee_id", "version", "due_on")
_SCHEDULE_NEWER = (
    "ON CONFLICT (tenant_id, goal_id) DO UPDATE SET employee_id = excluded.employee_id, version = excluded.version,"
    " due_on = excluded.due_on WHERE rm_checkin_schedules.version < excluded.version"
    # Two publishers of one goal's schedule (a replay from another source) resolve the same in any order.
    " OR (rm_checkin_schedules.version = excluded.version AND rm_checkin_schedules.due_on < excluded.due_on)"
)
REVIEW_COLUMNS = ("tenant_id", "review_id", "employee_id", "cycle", "corrects_review_id", "completed_at", "document")
_CHECKIN_KNOWN = "ON CONFLICT (tenant_id, goal_id, checkin_id) DO NOTHING"
# Profile fields and departure are separate facts, each kept by its own latest time, so any order converges.
_UPSERT_PROFILE = (
    "INSERT INTO rm_people (tenant_id, employee_id, display_name, manager_id, department, job_title, email,"
    " profile_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, employee_id) DO UPDATE SET"
    " display_name = excluded.display_name, manager_id = excluded.manager_id, department = excluded.department,"
    " job_title = excluded.job_title, email = excluded.email, profile_at = excluded.profile_at"
    " WHERE rm_people.profile_at IS NULL OR rm_people.profile_at < excluded.profile_at"
)
_UPSERT_DEPARTURE = (
    "INSERT INTO rm_people (tenant_id, employee_id, departed_on, departed_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (tenant_id, employee_id) DO UPDATE SET"
    " departed_on = excluded.departed_on, departed_at = excluded.departed_at"
    " WHERE rm_people.departed_at IS NULL OR rm_people.departed_at < excluded.departed_at"
)

_GOAL_EVENTS = frozenset(
    t.event_type for t in (GoalSet, GoalRevised, GoalClosed, GoalLinked, GoalUnlinked)
)


class MalformedEvent(ValueError):
    """An event whose envelope decoded but whose data lacks what this read model needs."""


_WRONG_SHAPE = (KeyError, TypeError, AttributeError, ValueError)
_EVERY_GOAL_HAS = frozenset({"title", "status", "level", "start_date", "due_date", "cadence"})


def _malformed(error: Exception) -> MalformedEvent:
    return MalformedEvent(f"event data is missing or has the wrong shape: {error!r}")


@contextmanager
def _data_read_as_malformed() -> Iterator[None]:
    """Event data that lacks a field or has the wrong shape raises ``MalformedEvent``, naming what was wrong."""
    try:
        yield
    except _WRONG_SHAPE as error:
        raise _malformed(error) from error


class NewFacts:
    """The rows a batch of events adds, gathered an event at a time (``add``), then stored in one go
    (``store``). A caller that decodes each event just before adding it need not keep the decoded events:
    a rebuild's replay keeps only these rows, which are a fraction of their size."""

    def __init__(self) -> None:
        self.named: set[Employee] = set()
        # Employees changed otherwise than by a new goal of theirs: named by any other event, or owning a goal
        # whose stored document changed in another way (a set goal's held-back later events, too).
        self.changed_otherwise: set[Employee] = set()
        self.linked: set[Employee] = set()  # owners at either end of a link these events touch (``store`` finds them)
        self.created: dict[tuple[str, str], dict[str, Any]] = {}  # goals new in this batch, set and nothing else
        self.touched_goals: set[tuple[str, str]] = set()
        self.goal_events: list[tuple[str, dict[str, Any]]] = []
        self.kpi_rows: list[tuple[Any, ...]] = []
        self.development_rows: list[tuple[Any, ...]] = []
        self.missed_rows: list[tuple[Any, ...]] = []
        self.schedule_rows: dict[tuple[str, str], tuple[Any, ...]] = {}  # the latest version of each in the batch
        self.named_otherwise: set[Employee] = set()  # named by any event but a schedule's due date
        self.review_rows: list[tuple[Any, ...]] = []
        self.profiles: list[tuple[Any, ...]] = []
        self.departures: list[tuple[Any, ...]] = []

    def add(self, kind: str, data: dict[str, Any]) -> None:
        """Gather one event's facts, or raise ``MalformedEvent`` and gather nothing of it."""
        try:  # not ``_data_read_as_malformed``: once per event of a replay, its generator costs a fifth of this
            self._add(kind, data)
        except _WRONG_SHAPE as error:
            raise _malformed(error) from error

    def _add(self, kind: str, data: dict[str, Any]) -> None:
        # Each branch reads everything it needs before it changes anything: a malformed event adds nothing.
        tenant, employee = data["tenant_id"], data["employee_id"]
        if kind in _GOAL_EVENTS:
            goal = (tenant, data["goal_id"])
            if kind == GoalRevised.event_type:
                changes = data["changes"]
                cleared = sorted(name for name in _EVERY_GOAL_HAS.intersection(data["changed_fields"])
                                 if name in changes and changes[name] is None)
                if cleared:
                    raise MalformedEvent(f"a revision clears what every goal has: {', '.join(cleared)}")
            self.goal_events.append((kind, data))  # applied in version order by ``store``, which reads it then
            self.touched_goals.add(goal)
        elif kind == CheckInRecorded.event_type:
            checkin_id, held_on = data["checkin_id"], data["held_on"]
            kpi, development, goals = [], [], []
            for entry in data["entries"]:
                goals.append((tenant, entry["goal_id"]))
                if entry["kind"] == "performance":
                    kpi.append((tenant, entry["goal_id"], checkin_id, employee, held_on, str(entry["kpi_value"]),
                                entry["unit"], entry["status"], entry.get("roadblocks") or "",
                                entry.get("resources_needed") or ""))
                else:
                    development.append((tenant, entry["goal_id"], checkin_id, employee, held_on,
                                        orjson.dumps(entry).decode()))
            self.kpi_rows += kpi
            self.development_rows += development
            self.touched_goals.update(goals)
        elif kind == CheckInOverdue.event_type:
            self.missed_rows.append((tenant, data["goal_id"], data["period_end"], employee, data["period_start"]))
        elif kind == CheckInScheduled.event_type:
            key, version = (tenant, data["goal_id"]), int(data["version"])
            if key not in self.schedule_rows or self.schedule_rows[key][3:] < (version, data["due_on"]):
                self.schedule_rows[key] = (tenant, data["goal_id"], employee, version, data["due_on"])
        elif kind == ReviewCompleted.event_type:
            self.review_rows.append((tenant, data["review_id"], employee, data["cycle"], data.get("corrects_review_id"),
                                     data["occurred_at"], orjson.dumps(data).decode()))
        elif kind == EmployeeUpserted.event_type:
            self.profiles.append((tenant, employee, data["display_name"], data.get("manager_id"), data.get("department"),
                                  data.get("job_title"), data.get("email"), _instant(data["occurred_at"])))
        elif kind == EmployeeDeparted.event_type:
            self.departures.append((tenant, employee, data["departed_on"], _instant(data["occurred_at"])))
        self.named.add((tenant, employee))
        if kind != CheckInScheduled.event_type:
            self.named_otherwise.add((tenant, employee))
        if kind != GoalSet.event_type:
            self.changed_otherwise.add((tenant, employee))

    def store(self, cursor: Cursor, *, find_dirty: bool = True) -> set[Employee]:
        """Write the gathered facts; return the employees whose cards they may change.

        ``find_dirty=False`` skips looking up stored links for the owners at their other ends: the set is then
        only the employees these events name (each event's employee, and the performance owner of a new link).
        Over a whole replay from offset zero, that is everyone with a stored fact (what a rebuild needs).
        """
        with _data_read_as_malformed():
            return self._store(cursor, find_dirty)

    def goals_added_alone(self) -> dict[Employee, list[dict[str, Any]]]:
        """After ``store`` (finding the dirty): the employees whose only change in this batch is new goals,
        set and nothing else, with no link touching them; and those goals' documents."""
        added: dict[Employee, list[dict[str, Any]]] = {}
        for (tenant, _), document in self.created.items():
            owner = (tenant, document["employee_id"])
            if owner not in self.changed_otherwise and owner not in self.linked:
                added.setdefault(owner, []).append(document)
        return added

    def due_dates_alone(self) -> dict[Employee, set[str]]:
        """After ``store`` (finding the dirty): the employees whose only change in this batch is the due dates of
        some of their goals, with those goals' ids."""
        moved: dict[Employee, set[str]] = {}
        for tenant, goal_id, employee_id, _, _ in self.schedule_rows.values():
            owner = (tenant, employee_id)
            if owner not in self.named_otherwise and owner not in self.linked:
                moved.setdefault(owner, set()).add(goal_id)
        return moved

    def _store(self, cursor: Cursor, find_dirty: bool) -> set[Employee]:
        if self.goal_events:
            _record_goal_events(cursor, self.goal_events, self.linked, self.created, self.changed_otherwise, find_dirty)
        insert_rows(cursor, "rm_kpi_checkins", KPI_CHECKIN_COLUMNS, self.kpi_rows, "ON CONFLICT DO NOTHING")
        insert_rows(cursor, "rm_development_checkins", DEVELOPMENT_CHECKIN_COLUMNS, self.development_rows,
                    _CHECKIN_KNOWN)
        insert_rows(cursor, "rm_missed_checkins", MISSED_COLUMNS, self.missed_rows,
                    "ON CONFLICT (tenant_id, goal_id, period_end) DO NOTHING")
        insert_rows(cursor, "rm_checkin_schedules", SCHEDULE_COLUMNS, list(self.schedule_rows.values()), _SCHEDULE_NEWER)
        insert_rows(cursor, "rm_reviews", REVIEW_COLUMNS, self.review_rows,
                    "ON CONFLICT (tenant_id, review_id) DO NOTHING")
        cursor.executemany(_UPSERT_PROFILE, self.profiles)
        cursor.executemany(_UPSERT_DEPARTURE, self.departures)
        if find_dirty:
            self.linked |= linked_owners(cursor, self.touched_goals)
        return self.named | self.linked


def _instant(value: str) -> str:
    """A time in UTC to the microsecond: stored so, times compare as strings in time order, whatever the offset."""
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="microseconds")


def _record_goal_events(
    cursor: Cursor, events: list[tuple[str, dict[str, Any]]], linked: set[Employee],
    created: dict[tuple[str, str], dict[str, Any]], changed_otherwise: set[Employee], find_dirty: bool,
) -> None:
    """Apply goal events in version order. Owners a link or an unlink reaches go into ``linked``; goals
    stored for the first time by a ``GoalSet`` alone (no later version applied with it) go into ``created``,
    and the owners of any other goal whose document changed into ``changed_otherwise``."""
    keys = {(data["tenant_id"], data["goal_id"]) for _, data in events}
    known = load_goal_documents(cursor, keys)
    waiting = _pending_goal_events(cursor, keys)
    streams: dict[tuple[str, str], dict[int, tuple[str, dict[str, Any]]]] = {}
    for kind, data in (*waiting, *events):
        streams.setdefault((data["tenant_id"], data["goal_id"]), {}).setdefault(data["version"], (kind, data))
    documents: dict[tuple[str, str], dict[str, Any]] = {}
    links: list[tuple[Any, ...]] = []
    unlinks: list[tuple[str, str]] = []
    still_waiting: list[tuple[Any, ...]] = []
    for key, by_version in streams.items():
        document = known.get(key)
        applied = stored_version = document["version"] if document else 0
        for version in sorted(by_version):
            kind, data = by_version[version]
            # Versions make every goal event idempotent: a replay or a relay duplicate changes nothing.
            if version <= applied:
                continue
            if version != applied + 1:
                # A gap: an earlier event of this goal has not arrived. Keep this one until it does.
                still_waiting.append((key[0], key[1], version, data["employee_id"], kind, orjson.dumps(data).decode()))
                continue
            document = _apply_goal_event(document, kind, data, links, unlinks, linked)
            applied = version
        if document is not None and applied > stored_version:
            documents[key] = document
            if stored_version == 0 and applied == 1 and by_version[1][0] == GoalSet.event_type:
                created[key] = document
            else:
                changed_otherwise.add((key[0], document["employee_id"]))
    insert_rows(
        cursor,
        "rm_goals",
        GOAL_COLUMNS,
        [
            (d["tenant_id"], d["goal_id"], d["employee_id"], d["kind"], d["status"], d["cycle"],
             d.get("level") or "individual", d.get("parent_goal_id"), d["title"], d["version"],
             orjson.dumps(d).decode())
            for d in documents.values()
        ],
        _GOAL_NEWER,
    )
    if waiting:
        cursor.executemany(
            "DELETE FROM rm_pending_goal_events WHERE tenant_id = ? AND goal_id = ? AND version = ?",
            [(d["tenant_id"], d["goal_id"], d["version"]) for _, d in waiting],
        )
    cursor.executemany(
        "INSERT INTO rm_pending_goal_events (tenant_id, goal_id, version, employee_id, event_type, data)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, goal_id, version) DO NOTHING",
        still_waiting,
    )
    # Owners of unlinked performance goals lose a supporter: their cards change too.
    for tenant, link_id in unlinks if find_dirty else ():
        cursor.execute("SELECT performance_owner_id FROM rm_links WHERE tenant_id = ? AND link_id = ?", (tenant, link_id))
        linked.update((tenant, owner) for (owner,) in cursor.fetchall())
    cursor.executemany(_INSERT_LINK, links)
    cursor.executemany("DELETE FROM rm_links WHERE tenant_id = ? AND link_id = ?", unlinks)


def _apply_goal_event(
    document: dict[str, Any] | None,
    kind: str,
    data: dict[str, Any],
    links: list[tuple[Any, ...]],
    unlinks: list[tuple[str, str]],
    linked: set[Employee],
) -> dict[str, Any]:
    """The goal's document after one event (the next version of it)."""
    if kind == GoalSet.event_type or document is None:
        document = {name: value for name, value in data.items() if name not in ("actor", "occurred_at")}
        document["set_on"] = data["occurred_at"][:10]
        return document
    if kind == GoalRevised.event_type:
        changes = data["changes"]
        for name in data["changed_fields"]:
            if name in changes:
                document[name] = changes[name]
    elif kind == GoalClosed.event_type:
        document.update(status="closed", outcome=data["outcome"], final_value=data.get("final_value"),
                        closed_on=data["occurred_at"][:10], close_note=data.get("note") or "")
    elif kind == GoalLinked.event_type:
        links.append((data["tenant_id"], data["link_id"], data["goal_id"], data["employee_id"],
                      data["performance_goal_id"], data["performance_goal_owner_id"], data["rationale"],
                      data.get("skill"), data.get("evidence"), data.get("future_role"), data["occurred_at"][:10]))
        linked.add((data["tenant_id"], data["performance_goal_owner_id"]))
    elif kind == GoalUnlinked.event_type:
        unlinks.append((data["tenant_id"], data["link_id"]))
    document["version"] = data["version"]
    return document


def _pending_goal_events(cursor: Cursor, keys: set[tuple[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for tenant, goal_ids in _by_tenant(keys).items():
        for chunk in _chunks(goal_ids):
            cursor.execute(
                f"SELECT event_type, data FROM rm_pending_goal_events WHERE tenant_id = ? AND goal_id IN ({_marks(chunk)})",
                (tenant, *chunk),
            )
            found.extend((kind, orjson.loads(data)) for kind, data in cursor.fetchall())
    return found


def load_goal_documents(cursor: Cursor, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored documents of the given (tenant, goal) keys that exist."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for tenant, goal_ids in _by_tenant(keys).items():
        for chunk in _chunks(goal_ids):
            cursor.execute(
                f"SELECT goal_id, document FROM rm_goals WHERE tenant_id = ? AND goal_id IN ({_marks(chunk)})",
                (tenant, *chunk),
            )
            found.update({(tenant, goal_id): orjson.loads(document) for goal_id, document in cursor.fetchall()})
    return found


def linked_owners(cursor: Cursor, goals: Iterable[tuple[str, str]]) -> set[Employee]:
    """The owners of goals on the other end of a link from any of ``goals``: their cards show these goals too."""
    owners: set[Employee] = set()
    for tenant, goal_ids in _by_tenant(goals).items():
        for chunk in _chunks(goal_ids):
            marks = _marks(chunk)
            # Two lookups, one per index: with an OR, the planner walks every link of the tenant instead.
            cursor.execute(
                "SELECT development_owner_id, performance_owner_id FROM rm_links WHERE tenant_id = ?"
                f" AND development_goal_id IN ({marks}) UNION ALL"
                " SELECT development_owner_id, performance_owner_id FROM rm_links WHERE tenant_id = ?"
                f" AND performance_goal_id IN ({marks})",
                (tenant, *chunk, tenant, *chunk),
            )
            for development_owner, performance_owner in cursor.fetchall():
                owners.add((tenant, development_owner))
                owners.add((tenant, performance_owner))
    return owners


def _by_tenant(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, set[str]] = {}
    for tenant, value in keys:
        grouped.setdefault(tenant, set()).add(value)
    return {tenant: sorted(values) for tenant, values in grouped.items()}


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))
