"""The read side's one read model: facts from all four topics, and the employee cards joined from them.

Each batch stores its facts, then recomputes the cards of the employees it touched, in the same transaction.
A rebuild stores every fact first and computes every card once at the end: the same function of the same
facts, so the same read model, much faster.
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from tandem_contracts.checkins import CHECKINS_TOPIC
from tandem_contracts.directory import DIRECTORY_TOPIC
from tandem_contracts.envelope import decode_data
from tandem_contracts.goals import GOALS_TOPIC
from tandem_contracts.reviews import REVIEWS_TOPIC
from tandem_projections import facts as stored
from tandem_projections.cards import TREND_POINTS, Facts, build_card, index_links, summarize, with_new_performance_goals
from tandem_projections.facts import Employee, MalformedEvent
from tandem_runtime.database import Cursor, SQLDatabase, insert_rows
from tandem_runtime.projection import Delivery
from tandem_runtime.retry import is_transient

Change = TypeVar("Change")  # what changed on one owner's card, for ``_update_cards_in_place``

COUNTERS = (
    "performance_goals", "supported_performance_goals", "development_goals", "aligned_development_goals",
    "on_track", "at_risk", "off_track", "gaps_without_development", "unaligned_development_goals",
    "capacity_over_committed", "capacity_unused", "hours_set_aside", "hours_logged",
)

# Counters and documents live apart: roll-ups scan only the small counter rows.
_CARDS_TABLE = (
    "CREATE TABLE IF NOT EXISTS rm_cards ("
    " tenant_id TEXT NOT NULL, employee_id TEXT NOT NULL, display_name TEXT NOT NULL, manager_id TEXT,"
    " department TEXT, active INTEGER NOT NULL,"
    + ",".join(
        f" {name} {'DOUBLE PRECISION' if name.startswith('hours') else 'INTEGER'} NOT NULL" for name in COUNTERS
    )
    + ", PRIMARY KEY (tenant_id, employee_id))"
)
_CARD_DOCUMENTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS rm_card_documents ("
    " tenant_id TEXT NOT NULL, employee_id TEXT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (tenant_id, employee_id))"
)
# Summaries apart from documents: a team query reads a thousand of them and no document's overflow pages.
_CARD_SUMMARIES_TABLE = (
    "CREATE TABLE IF NOT EXISTS rm_card_summaries ("
    " tenant_id TEXT NOT NULL, employee_id TEXT NOT NULL, summary TEXT NOT NULL, PRIMARY KEY (tenant_id, employee_id))"
)
# Each department's sums over its current members' cards, kept as the cards change: the tenant roll-up reads a
# row per department instead of summing every card (100,000 cards took 48 ms). Hours are kept in hundredths,
# whole numbers, which add and subtract alike in any order, so a rebuild and live processing agree exactly.
_DEPARTMENT_ROLLUPS_TABLE = (
    "CREATE TABLE IF NOT EXISTS rm_department_rollups ("
    " tenant_id TEXT NOT NULL, department TEXT NOT NULL, employees BIGINT NOT NULL,"
    + ",".join(f" {name} BIGINT NOT NULL" for name in COUNTERS)
    + ", PRIMARY KEY (tenant_id, department))"
)
_NO_DEPARTMENT = ""  # the roll-up key of the people without a department (a key cannot be NULL)
_ROLLUP_COLUMNS = ("tenant_id", "department", "employees", *COUNTERS)
_ROLLUP_CHANGED = (
    "ON CONFLICT (tenant_id, department) DO UPDATE SET employees = rm_department_rollups.employees + excluded.employees, "
    + ", ".join(f"{name} = rm_department_rollups.{name} + excluded.{name}" for name in COUNTERS)
)
# What each goal's card says about it, beside the goal's own place in the cascade, for roll-ups and trees.
_GOAL_FIGURES_TABLE = (
    "CREATE TABLE IF NOT EXISTS rm_goal_figures ("
    " tenant_id TEXT NOT NULL, goal_id TEXT NOT NULL, employee_id TEXT NOT NULL, parent_goal_id TEXT,"
    " level TEXT NOT NULL, status TEXT NOT NULL, attainment DOUBLE PRECISION, health TEXT, next_check_in_due TEXT,"
    " PRIMARY KEY (tenant_id, goal_id))"
)
_GOAL_FIGURES_INDEXES = (
    "CREATE INDEX IF NOT EXISTS rm_goal_figures_by_employee ON rm_goal_figures (tenant_id, employee_id, next_check_in_due)",
    # Covers the tenant's count of overdue check-ins: the goals due before today are read from the index alone.
    "CREATE INDEX IF NOT EXISTS rm_goal_figures_due ON rm_goal_figures (tenant_id, next_check_in_due, status)",
    "DROP INDEX IF EXISTS rm_goal_figures_by_due",  # what a store made before the index above had instead
    # Covers how a goal's children are doing (``queries.cascade_roots``): 30,000 children read in 4 ms, not 9.
    "CREATE INDEX IF NOT EXISTS rm_goal_figures_children ON rm_goal_figures (tenant_id, parent_goal_id, attainment, health)",
    "DROP INDEX IF EXISTS rm_goal_figures_by_parent",  # what a store made before the index above had instead
    "CREATE INDEX IF NOT EXISTS rm_goal_figures_by_level ON rm_goal_figures (tenant_id, level)",
)
GOAL_FIGURE_COLUMNS = ("tenant_id", "goal_id", "employee_id", "parent_goal_id", "level", "status", "attainment", "health",
                       "next_check_in_due")
CARD_COLUMNS = ("tenant_id", "employee_id", "display_name", "manager_id", "department", "active", *COUNTERS)
_CARD_CHANGED = (
    "ON CONFLICT (tenant_id, employee_id) DO UPDATE SET display_name = excluded.display_name,"
    " manager_id = excluded.manager_id, department = excluded.department, active = excluded.active, "
    + ", ".join(f"{name} = excluded.{name}" for name in COUNTERS)
)
_DOCUMENT_CHANGED = (
    "ON CONFLICT (tenant_id, employee_id) DO UPDATE SET document = excluded.document"
)
_SUMMARY_CHANGED = (
    "ON CONFLICT (tenant_id, employee_id) DO UPDATE SET summary = excluded.summary"
)
_NEW = "ON CONFLICT DO NOTHING"
_FIGURES_CHANGED = (
    "ON CONFLICT (tenant_id, goal_id) DO UPDATE SET employee_id = excluded.employee_id,"
    " parent_goal_id = excluded.parent_goal_id, level = excluded.level, status = excluded.status,"
    " attainment = excluded.attainment, health = excluded.health, next_check_in_due = excluded.next_check_in_due"
)
_CARD_BATCH = 500


class DashboardsReadModel:
    """Alignment dashboards and review packets, from the goals, check-ins, reviews and directory topics."""

    name = "dashboards"
    topics = (GOALS_TOPIC, CHECKINS_TOPIC, REVIEWS_TOPIC, DIRECTORY_TOPIC)
    decode = staticmethod(decode_data)
    malformed = (MalformedEvent,)
    tracks_streams = False  # every fact is written idempotently (see ``facts``)

    def __init__(self, *, defer_cards: bool = False) -> None:
        self.defer_cards = defer_cards
        self.deferred: set[Employee] = set()  # with deferred cards: everyone an applied event is about

    def create_schema(self, cursor: Cursor) -> None:
        # On SQLite, check-ins live in their key's B-tree: a goal's history is contiguous and an insert
        # touches one tree, not a table and an index. PostgreSQL has no such option (nor need).
        clustered = " WITHOUT ROWID" if isinstance(cursor, sqlite3.Cursor) else ""
        for statement in (*stored.SCHEMA, _CARDS_TABLE, _CARD_DOCUMENTS_TABLE, _CARD_SUMMARIES_TABLE, _GOAL_FIGURES_TABLE,
                          *_GOAL_FIGURES_INDEXES, _DEPARTMENT_ROLLUPS_TABLE):
            cursor.execute(statement.replace("{clustered}", clustered))
        cursor.execute("CREATE INDEX IF NOT EXISTS rm_cards_by_manager ON rm_cards (tenant_id, manager_id)")
        cursor.execute("CREATE INDEX IF NOT EXISTS rm_cards_by_department ON rm_cards (tenant_id, department)")
        cursor.execute("DROP INDEX IF EXISTS rm_cards_rollup")  # the tenant roll-up's, before it had its own table
        # The few who have left, whose overdue goals the tenant roll-up leaves out (``queries.tenant_dashboard``).
        cursor.execute("CREATE INDEX IF NOT EXISTS rm_cards_departed ON rm_cards (tenant_id, employee_id) WHERE active = 0")
        # A store whose cards were written before the roll-ups were kept gets them once, here.
        cursor.execute("SELECT EXISTS (SELECT 1 FROM rm_cards WHERE active = 1)"
                       " AND NOT EXISTS (SELECT 1 FROM rm_department_rollups)")
        if cursor.fetchone()[0]:
            refill_department_rollups(cursor)

    def apply(self, cursor: Cursor, deliveries: Sequence[Delivery]) -> None:
        facts = self.gather()
        for delivery in deliveries:
            facts.add(delivery.envelope.type, delivery.event)
        self.apply_gathered(cursor, facts)

    @staticmethod
    def gather() -> stored.NewFacts:
        """An empty collector of new facts, for ``apply_gathered`` (see ``ReadModel``)."""
        return stored.NewFacts()

    def apply_gathered(self, cursor: Cursor, facts: stored.NewFacts) -> None:
        dirty = facts.store(cursor, find_dirty=not self.defer_cards)
        if self.defer_cards:
            self.deferred |= dirty
        else:
            updated = add_goals_to_cards(cursor, facts.goals_added_alone())
            updated |= move_due_dates_on_cards(cursor, facts.due_dates_alone())
            refresh_cards(cursor, dirty - updated)


def add_goals_to_cards(cursor: Cursor, added: dict[Employee, list[dict[str, Any]]]) -> set[Employee]:
    """Add new goals to their owners' stored cards without recomputing the cards; return whose cards were updated.

    The commonest change of all, a goal being set, touches one card, and recomputing that card whole
    costs several times what adding one goal's view to it does. Only performance goals with nothing stored
    about them yet (no check-in, missed check-in or link: facts can arrive before their goal) are added so,
    to owners whose card is stored and who have no other change in the batch; ``cards.with_new_performance_goals``
    gives the very card a recomputation would. Everyone else is left to ``refresh_cards``.
    """
    addable = {owner: goals for owner, goals in added.items()
               if all(goal["kind"] == "performance" and goal["status"] != "closed" for goal in goals)}
    return _update_cards_in_place(cursor, addable, _cards_with_goals_added)


def move_due_dates_on_cards(cursor: Cursor, moved: dict[Employee, set[str]]) -> set[Employee]:
    """Write the stored due dates of ``moved`` goals into their owners' stored cards, without recomputing the cards;
    return whose cards were updated.

    A check-in schedule's due date moves with every goal set and most check-ins, and is shown only on its owner's
    card (the goal's view, the team summary and the goal's figures), so patching it gives the very card a
    recomputation would. Owners whose card is not stored yet are left to ``refresh_cards``.
    """
    return _update_cards_in_place(cursor, moved, _cards_with_due_dates_moved)


def _update_cards_in_place(
    cursor: Cursor, changes: dict[Employee, Change], rows_for: Callable[[Cursor, str, dict[str, Change]], CardRows]
) -> set[Employee]:
    """Write the cards ``rows_for`` makes of stored cards and ``changes``, a batch of owners of a tenant at a time;
    return whose cards were updated."""
    updated: set[Employee] = set()
    by_tenant: dict[str, dict[str, Change]] = {}
    for (tenant, employee_id), change in changes.items():
        by_tenant.setdefault(tenant, {})[employee_id] = change
    for tenant, changes_of in sorted(by_tenant.items()):
        everyone = sorted(changes_of)
        for start in range(0, len(everyone), _CARD_BATCH):
            owners = everyone[start : start + _CARD_BATCH]
            rows = rows_for(cursor, tenant, {owner: changes_of[owner] for owner in owners})
            write_card_rows(cursor, rows)
            updated.update((tenant, row[1]) for row in rows.cards)
    return updated


def _cards_with_due_dates_moved(cursor: Cursor, tenant: str, goals_of: dict[str, set[str]]) -> CardRows:
    owners = list(goals_of)
    owner_marks = ",".join("?" * len(owners))
    cursor.execute(
        f"SELECT employee_id, document FROM rm_card_documents WHERE tenant_id = ? AND employee_id IN ({owner_marks})",
        (tenant, *owners),
    )
    cards = {employee_id: orjson.loads(document) for employee_id, document in cursor.fetchall()}
    cursor.execute(
        f"SELECT employee_id, {', '.join(COUNTERS)} FROM rm_cards WHERE tenant_id = ? AND employee_id IN ({owner_marks})",
        (tenant, *owners),
    )
    counts = {employee_id: dict(zip(COUNTERS, values, strict=True)) for employee_id, *values in cursor.fetchall()}
    goal_ids = sorted(goal_id for goal_ids in goals_of.values() for goal_id in goal_ids)
    due = dict(_rows_of_goals(cursor, "rm_checkin_schedules", "goal_id, due_on", tenant, goal_ids))
    goals = stored.load_goal_documents(cursor, {(tenant, goal_id) for goal_id in goal_ids})
    rows = CardRows()
    for owner in owners:
        if owner not in cards or owner not in counts:
            continue
        card = cards[owner]
        for view in (*card["performance_goals"], *card["development_goals"]):
            if view["goal_id"] in goals_of[owner]:
                view["next_check_in_due"] = due.get(view["goal_id"]) if view["status"] == "active" else None
        shown = [goals[(tenant, goal_id)] for goal_id in sorted(goals_of[owner]) if (tenant, goal_id) in goals]
        _add_card_rows(rows, tenant, owner, card, counts[owner], shown)
    return rows


def _cards_with_goals_added(cursor: Cursor, tenant: str, goals_of: dict[str, list[dict[str, Any]]]) -> CardRows:
    owners = list(goals_of)
    goal_ids = [goal["goal_id"] for goals in goals_of.values() for goal in goals]
    owner_marks = ",".join("?" * len(owners))
    cursor.execute(
        f"SELECT employee_id, document FROM rm_card_documents WHERE tenant_id = ? AND employee_id IN ({owner_marks})",
        (tenant, *owners),
    )
    cards = {employee_id: orjson.loads(document) for employee_id, document in cursor.fetchall()}
    # Check-ins can be stored before their goal. (A link touching a new goal made its owners ``linked``
    # already, and a link whose owners are others is on no card of the owner's.)
    named = {goal_id for table in ("rm_kpi_checkins", "rm_development_checkins", "rm_missed_checkins",
                                   "rm_checkin_schedules")
             for (goal_id,) in _rows_of_goals(cursor, table, "goal_id", tenant, goal_ids)}
    # Only a review that names a new goal can say anything about it: the rest are not even parsed. Corrected
    # reviews are left out here, by their correction, as ``cards`` leaves them out.
    reviews: dict[str, list[dict[str, Any]]] = {owner: [] for owner in owners}
    cursor.execute(
        "SELECT employee_id, review_id, corrects_review_id, document FROM rm_reviews"
        f" WHERE tenant_id = ? AND employee_id IN ({owner_marks})",
        (tenant, *owners),
    )
    found = cursor.fetchall()
    corrected = {(employee_id, corrects) for employee_id, _, corrects, _ in found if corrects}
    for employee_id, review_id, _, document in found:
        if (employee_id, review_id) not in corrected and any(goal["goal_id"] in document for goal in goals_of[employee_id]):
            reviews[employee_id].append(orjson.loads(document))
    rows = CardRows()
    for owner in owners:
        goals = goals_of[owner]
        if owner not in cards or any(goal["goal_id"] in named for goal in goals):
            continue
        card, counts = with_new_performance_goals(cards[owner], goals, reviews[owner])
        _add_card_rows(rows, tenant, owner, card, counts, goals)
    return rows


def refresh_cards(cursor: Cursor, employees: Iterable[Employee]) -> int:
    """Recompute the cards of ``employees`` from the stored facts; return how many were written."""
    return sum(_write_cards(cursor, tenant, ids) for tenant, ids in _chunks_by_tenant(employees, _CARD_BATCH))


def _chunks_by_tenant(employees: Iterable[Employee], size: int) -> Iterator[tuple[str, list[str]]]:
    """``employees`` as (tenant, up to ``size`` employee ids), in order: the unit cards are loaded in."""
    by_tenant: dict[str, list[str]] = {}
    for tenant, employee in employees:
        by_tenant.setdefault(tenant, []).append(employee)
    for tenant, ids in sorted(by_tenant.items()):
        ids.sort()
        for start in range(0, len(ids), size):
            yield tenant, ids[start : start + size]

def refresh_all_cards(cursor: Cursor, everyone: list[Employee], progress: Any = None,
                      unbuildable: dict[Employee, str] | None = None) -> int:
    """Recompute the cards of ``everyone`` in this transaction, reporting progress as it goes.

    Given ``unbuildable``, a card whose facts cannot be made into one is left out and named there with its
    error, instead of failing them all (a rebuild's, whose facts include what live processing dead-lettered).
    """
    written = 0
    for tenant, ids in _chunks_by_tenant(everyone, _CARD_BATCH):
        rows = card_rows(cursor, tenant, ids) if unbuildable is None else _rows_of_buildable_cards(
            cursor, tenant, ids, unbuildable)
        written += write_card_rows(cursor, rows)
        if progress:
            progress(written, len(everyone))
    return written


def _rows_of_buildable_cards(cursor: Cursor, tenant: str, employee_ids: list[str],
                             unbuildable: dict[Employee, str]) -> CardRows:
    """``card_rows``, or if that fails, the cards of ``employee_ids`` one at a time, naming those that fail in
    ``unbuildable``: the batch pays nothing when every card builds."""
    try:
        return card_rows(cursor, tenant, employee_ids)
    except Exception as error:
        if is_transient(error):
            raise
    rows = CardRows()
    for employee_id in employee_ids:
        try:
            alone = card_rows(cursor, tenant, [employee_id])
        except Exception as error:
            if is_transient(error):
                raise
            unbuildable[(tenant, employee_id)] = repr(error)
            continue
        rows.cards += alone.cards
        rows.documents += alone.documents
        rows.figures += alone.figures
    return rows


# Every fact table, and the column naming the employee whose events (keyed ``tenant:employee``) wrote its rows.
_FACTS_BY_EMPLOYEE = (
    ("rm_people", "employee_id"), ("rm_goals", "employee_id"), ("rm_links", "development_owner_id"),
    ("rm_kpi_checkins", "employee_id"), ("rm_development_checkins", "employee_id"),
    ("rm_missed_checkins", "employee_id"), ("rm_reviews", "employee_id"), ("rm_pending_goal_events", "employee_id"),
)


def forget_facts_of(cursor: Cursor, employees: set[Employee]) -> set[Employee]:
    """Delete every fact the events of ``employees`` stored, so that their events can be applied afresh; return
    the owners at the other end of their links, whose cards show some of those facts."""
    others: set[Employee] = set()
    for tenant, ids in _chunks_by_tenant(employees, stored.CHUNK):
        marks = ",".join("?" * len(ids))
        cursor.execute(
            f"SELECT development_owner_id, performance_owner_id FROM rm_links WHERE tenant_id = ? AND"
            f" (development_owner_id IN ({marks}) OR performance_owner_id IN ({marks}))",
            (tenant, *ids, *ids),
        )
        others.update((tenant, owner) for pair in cursor.fetchall() for owner in pair)
        for table, column in _FACTS_BY_EMPLOYEE:
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = ? AND {column} IN ({marks})", (tenant, *ids))
    return others - employees


@dataclass
class CardRows:
    """The rows the cards of some employees write: counters, documents, and each goal's figures."""

    cards: list[tuple[Any, ...]] = field(default_factory=list)
    documents: list[tuple[Any, ...]] = field(default_factory=list)
    figures: list[tuple[Any, ...]] = field(default_factory=list)


def card_rows(cursor: Cursor, tenant: str, employee_ids: list[str]) -> CardRows:
    """Compute (not write) the cards of ``employee_ids``, reading their facts through ``cursor``."""
    with _collector_paused():
        return _card_rows(cursor, tenant, employee_ids)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Building cards makes many short-lived containers and no cycles: the cyclic collector's passes over
    them cost a fifth of the time or more, for nothing. (Paused for the whole process, for milliseconds.)"""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _card_rows(cursor: Cursor, tenant: str, employee_ids: list[str]) -> CardRows:
    facts = load_facts(cursor, tenant, employee_ids, recent=TREND_POINTS)
    rows = CardRows()
    for employee_id in employee_ids:
        card, counts = build_card(tenant, employee_id, facts)
        _add_card_rows(rows, tenant, employee_id, card, counts,
                       [facts.goals[goal_id] for goal_id in facts.goals_of.get(employee_id, ())])
    return rows


def _add_card_rows(rows: CardRows, tenant: str, employee_id: str, card: dict[str, Any], counts: dict[str, Any],
                   goals: list[dict[str, Any]]) -> None:
    """Add one card's rows to ``rows``: its counters, document and summary, and the figures of ``goals``."""
    rows.cards.append((tenant, employee_id, card["display_name"], card["manager_id"], card["department"],
                       int(card["active"]), *(counts[name] for name in COUNTERS)))
    rows.documents.append((tenant, employee_id, orjson.dumps(card).decode(), orjson.dumps(summarize(card)).decode()))
    shown = {view["goal_id"]: view for view in (*card["performance_goals"], *card["development_goals"])}
    for goal in goals:
        # Goals the card leaves out (abandoned ones) get no figures, whatever they had while live.
        view = shown.get(goal["goal_id"], {})
        figure = view.get("attainment") if "attainment" in view else view.get("progress")
        rows.figures.append((tenant, goal["goal_id"], employee_id, goal.get("parent_goal_id"),
                             goal.get("level") or "individual", goal["status"], figure, view.get("health"),
                             view.get("next_check_in_due")))


def write_card_rows(cursor: Cursor, rows: CardRows, *, first: bool = False) -> int:
    """Write computed cards; return how many.

    ``first``: none of these cards (nor their goals' figures) is stored yet, as in a rebuild's fresh store. The
    rows are then only added, which PostgreSQL does by COPY straight into the tables, without a staging table.
    """
    card, document, summary, figures = (
        (_NEW,) * 4 if first else (_CARD_CHANGED, _DOCUMENT_CHANGED, _SUMMARY_CHANGED, _FIGURES_CHANGED)
    )
    # A rebuild's cards are summed once they are all written (``refill_department_rollups``).
    changes = {} if first else _department_changes(cursor, rows.cards)
    insert_rows(cursor, "rm_cards", CARD_COLUMNS, rows.cards, card)
    insert_rows(cursor, "rm_card_documents", ("tenant_id", "employee_id", "document"),
                [row[:3] for row in rows.documents], document)
    insert_rows(cursor, "rm_card_summaries", ("tenant_id", "employee_id", "summary"),
                [(*row[:2], row[3]) for row in rows.documents], summary)
    insert_rows(cursor, "rm_goal_figures", GOAL_FIGURE_COLUMNS, rows.figures, figures)
    _change_department_rollups(cursor, changes)
    return len(rows.cards)


_CARD_ACTIVE, _CARD_DEPARTMENT = CARD_COLUMNS.index("active"), CARD_COLUMNS.index("department")
_CARD_COUNTERS = len(CARD_COLUMNS) - len(COUNTERS)  # where a card row's counters start
_IN_HUNDREDTHS = tuple(name.startswith("hours") for name in COUNTERS)


def _add_to_rollups(sums: dict[tuple[str, str], list[int]], tenant: str, department: str | None,
                    counters: Sequence[Any], sign: int = 1) -> None:
    """Add (or, with ``sign`` -1, take out) one current member of ``department``: themselves and their counters,
    hours in hundredths, rounded half up."""
    total = sums.setdefault((tenant, department or _NO_DEPARTMENT), [0] * (1 + len(COUNTERS)))
    total[0] += sign
    for index, (value, hundredths) in enumerate(zip(counters, _IN_HUNDREDTHS, strict=True), start=1):
        total[index] += sign * (int(value * 100 + 0.5) if hundredths else int(value))


def _department_changes(cursor: Cursor, cards: list[tuple[Any, ...]]) -> dict[tuple[str, str], list[int]]:
    """How writing ``cards`` changes the department roll-ups: each stored card's terms out, each new one's in."""
    changes: dict[tuple[str, str], list[int]] = {}
    by_tenant: dict[str, list[str]] = {}
    for row in cards:
        by_tenant.setdefault(row[0], []).append(row[1])
        if row[_CARD_ACTIVE]:
            _add_to_rollups(changes, row[0], row[_CARD_DEPARTMENT], row[_CARD_COUNTERS:])
    for tenant, ids in by_tenant.items():
        for start in range(0, len(ids), stored.CHUNK):
            chunk = ids[start : start + stored.CHUNK]
            cursor.execute(
                f"SELECT department, {', '.join(COUNTERS)} FROM rm_cards WHERE tenant_id = ? AND active = 1"
                f" AND employee_id IN ({','.join('?' * len(chunk))})",
                (tenant, *chunk),
            )
            for department, *counters in cursor.fetchall():
                _add_to_rollups(changes, tenant, department, counters, -1)
    return {key: sums for key, sums in changes.items() if any(sums)}


def _change_department_rollups(cursor: Cursor, changes: dict[tuple[str, str], list[int]]) -> None:
    """Add ``changes`` to the roll-ups, in key order (two transactions changing the same departments wait for
    each other rather than deadlock); a department left with nobody has no roll-up."""
    if not changes:
        return
    keys = sorted(changes)
    marks = ", ".join("?" * len(_ROLLUP_COLUMNS))
    cursor.executemany(f"INSERT INTO rm_department_rollups ({', '.join(_ROLLUP_COLUMNS)}) VALUES ({marks}) {_ROLLUP_CHANGED}",
                       [(*key, *changes[key]) for key in keys])
    cursor.executemany("DELETE FROM rm_department_rollups WHERE tenant_id = ? AND department = ? AND employees = 0", keys)


def refill_department_rollups(cursor: Cursor) -> None:
    """Sum every current member's card into the department roll-ups afresh: a rebuild's last step."""
    cursor.execute("DELETE FROM rm_department_rollups")
    cursor.execute(f"SELECT tenant_id, department, {', '.join(COUNTERS)} FROM rm_cards WHERE active = 1")
    sums: dict[tuple[str, str], list[int]] = {}
    for tenant, department, *counters in cursor.fetchall():
        _add_to_rollups(sums, tenant, department, counters)
    insert_rows(cursor, "rm_department_rollups", _ROLLUP_COLUMNS, [(*key, *sums[key]) for key in sorted(sums)], _NEW)


def department_rollups(cursor: Cursor, tenant: str) -> list[tuple[Any, ...]]:
    """A tenant's roll-up per department: (department or None, employees, the ``COUNTERS`` with hours in hours)."""
    cursor.execute(f"SELECT {', '.join(_ROLLUP_COLUMNS[1:])} FROM rm_department_rollups WHERE tenant_id = ?", (tenant,))
    return [
        (None if department == _NO_DEPARTMENT else department, employees,
         *(value / 100 if hundredths else value for value, hundredths in zip(sums, _IN_HUNDREDTHS, strict=True)))
        for department, employees, *sums in cursor.fetchall()
    ]


def _write_cards(cursor: Cursor, tenant: str, employee_ids: list[str]) -> int:
    return write_card_rows(cursor, card_rows(cursor, tenant, employee_ids))


def cards_in_parallel(database_url: str, employees: list[Employee], pool: Executor, progress: Any = None,
                      unbuildable: dict[Employee, str] | None = None) -> int:
    """Compute and write every card of ``employees`` in ``pool``'s processes (a rebuild's, whose replay has
    already started them) on the store at ``database_url``: a rebuild's last step. Each chunk of cards is its
    own transaction; the store is not in use until the rebuild is done. Cards that cannot be built are left
    out and named in ``unbuildable`` (see ``refresh_all_cards``)."""
    chunks = [(database_url, tenant, ids) for tenant, ids in _chunks_by_tenant(employees, _CARD_BATCH)]
    written = 0
    for count, failed in pool.map(_write_chunk_of_cards, chunks):
        written += count
        if unbuildable is not None:
            unbuildable.update(failed)
        if progress:
            progress(written, len(employees))
    return written


_stores: dict[str, SQLDatabase] = {}  # in a worker process: connections per store, for the process's lifetime


def _write_chunk_of_cards(chunk: tuple[str, str, list[str]]) -> tuple[int, dict[Employee, str]]:
    database_url, tenant, employee_ids = chunk
    if database_url not in _stores:
        _stores[database_url] = SQLDatabase.connect(database_url, pool_size=1, durable=False)
    database = _stores[database_url]
    unbuildable: dict[Employee, str] = {}
    with database.reading() as cursor:
        rows = _rows_of_buildable_cards(cursor, tenant, employee_ids, unbuildable)
    with database.transaction() as cursor:  # holds the store's write lock only to write
        return write_card_rows(cursor, rows, first=True), unbuildable  # each card is written once, in one chunk


_KPI_FIELDS = "goal_id, checkin_id, held_on, kpi_value, unit, status, roadblocks, resources_needed"
_KPI_NAMES = tuple(_KPI_FIELDS.split(", ")[1:])
# What a card reads of a check-in (``cards.performance_view``, ``cards._capacity``): all ``recent`` loads.
_RECENT_KPI_FIELDS = "goal_id, checkin_id, held_on, kpi_value, status"
_RECENT_KPI_NAMES = tuple(_RECENT_KPI_FIELDS.split(", ")[1:])


def _recent_kpi_checkins(cursor: Cursor, tenant: str, goal_ids: list[str], recent: int, counts: dict[str, int]) -> list[Any]:
    """The latest ``recent`` KPI check-ins of each goal, read backwards along the key (goal, date, id), and each
    goal's full count into ``counts``, with only the fields a card reads. Check-in ids are lowercase UUIDs,
    which every collation orders alike."""
    marks = ",".join("?" * len(goal_ids))
    cursor.execute(
        f"SELECT goal_id, COUNT(*) FROM rm_kpi_checkins WHERE tenant_id = ? AND goal_id IN ({marks}) GROUP BY goal_id",
        (tenant, *goal_ids),
    )
    counted = dict(cursor.fetchall())
    counts.update(counted)
    if not counted:
        return []
    if isinstance(cursor, sqlite3.Cursor):
        # In process, a query per goal costs microseconds and walks only the rows it returns.
        rows: list[Any] = []
        latest = (f"SELECT {_RECENT_KPI_FIELDS} FROM rm_kpi_checkins WHERE tenant_id = ? AND goal_id = ?"
                  " ORDER BY held_on DESC, checkin_id DESC LIMIT ?")
        for goal_id in sorted(counted):
            cursor.execute(latest, (tenant, goal_id, recent))
            rows += cursor.fetchall()
        return rows
    # One round trip: the same backward walk per goal, as a lateral join.
    cursor.execute(
        f"SELECT {', '.join('k.' + name for name in _RECENT_KPI_FIELDS.split(', '))}"
        " FROM unnest(?::text[]) AS wanted(goal_id) CROSS JOIN LATERAL ("
        f" SELECT {_RECENT_KPI_FIELDS} FROM rm_kpi_checkins WHERE tenant_id = ? AND goal_id = wanted.goal_id"
        " ORDER BY held_on DESC, checkin_id DESC LIMIT ?) AS k",
        (sorted(counted), tenant, recent),
    )
    return cursor.fetchall()


def _rows_of_goals(cursor: Cursor, table: str, fields: str, tenant: str, goal_ids: list[str]) -> list[Any]:
    """``fields`` of ``table``'s rows for ``goal_ids``, a table keyed (tenant, goal, ...).

    On PostgreSQL, one index lookup per goal: given the whole list in ``IN (...)``, the planner expects each
    goal to have the table's average number of rows, while many have none (a performance goal has no
    development check-ins), and so it often scans the whole table instead. (``OFFSET 0`` keeps the subquery
    a lookup per goal.)
    """
    if isinstance(cursor, sqlite3.Cursor):
        cursor.execute(
            f"SELECT {fields} FROM {table} WHERE tenant_id = ? AND goal_id IN ({','.join('?' * len(goal_ids))})",
            (tenant, *goal_ids),
        )
        return cursor.fetchall()
    cursor.execute(
        f"SELECT {', '.join('r.' + name for name in fields.split(', '))}"
        " FROM unnest(?::text[]) AS wanted(goal_id) CROSS JOIN LATERAL ("
        f" SELECT {fields} FROM {table} WHERE tenant_id = ? AND goal_id = wanted.goal_id OFFSET 0) AS r",
        (goal_ids, tenant),
    )
    return cursor.fetchall()


def load_facts(cursor: Cursor, tenant: str, employee_ids: list[str], *, recent: int | None = None) -> Facts:
    """Everything the cards of ``employee_ids`` show: their goals, links, the goals at the links' other ends,
    the check-ins on all of those, missed check-ins, reviews and directory records.

    ``recent`` keeps only that many latest KPI check-ins per goal (with the full count), and of each only the
    fields a card reads: all a card shows.
    """
    facts = Facts()
    marks = ",".join("?" * len(employee_ids))
    cursor.execute(
        "SELECT employee_id, display_name, manager_id, department, job_title, profile_at, departed_on, departed_at"
        f" FROM rm_people WHERE tenant_id = ? AND employee_id IN ({marks})",
        (tenant, *employee_ids),
    )
    for employee_id, name, manager, department, title, profile_at, departed_on, departed_at in cursor.fetchall():
        facts.people[employee_id] = {"display_name": name, "manager_id": manager, "department": department,
                                     "job_title": title, "profile_at": profile_at, "departed_on": departed_on,
                                     "departed_at": departed_at}
    cursor.execute(
        f"SELECT goal_id, document FROM rm_goals WHERE tenant_id = ? AND employee_id IN ({marks})",
        (tenant, *employee_ids),
    )
    for goal_id, document in cursor.fetchall():
        goal = orjson.loads(document)
        facts.goals[goal_id] = goal
    names = ("link_id", "development_goal_id", "development_owner_id", "performance_goal_id", "performance_owner_id",
             "rationale", "skill", "evidence", "future_role", "linked_on")
    # Two lookups, one per owner index, joined with UNION (a link between two of them comes once): with an OR,
    # the planner walks every link of the tenant instead.
    cursor.execute(
        f"SELECT {', '.join(names)} FROM rm_links WHERE tenant_id = ? AND development_owner_id IN ({marks})"
        f" UNION SELECT {', '.join(names)} FROM rm_links WHERE tenant_id = ? AND performance_owner_id IN ({marks})",
        (tenant, *employee_ids, tenant, *employee_ids),
    )
    facts.links = sorted((dict(zip(names, row, strict=True)) for row in cursor.fetchall()), key=lambda link: link["link_id"])
    index_links(facts)
    elsewhere = {(tenant, link[k]) for link in facts.links for k in ("development_goal_id", "performance_goal_id")}
    elsewhere = {key for key in elsewhere if key[1] not in facts.goals}
    facts.goals.update({goal_id: goal for (_, goal_id), goal in stored.load_goal_documents(cursor, elsewhere).items()})
    owners = set(employee_ids)
    for goal_id, goal in sorted(facts.goals.items(), key=lambda item: item[0]):
        if goal["employee_id"] in owners:
            facts.goals_of[goal["employee_id"]].append(goal_id)
    goal_ids = sorted(facts.goals)
    for start in range(0, len(goal_ids), stored.CHUNK):
        chunk = goal_ids[start : start + stored.CHUNK]
        in_chunk = ",".join("?" * len(chunk))
        if recent is None:
            cursor.execute(
                f"SELECT {_KPI_FIELDS} FROM rm_kpi_checkins WHERE tenant_id = ? AND goal_id IN ({in_chunk})",
                (tenant, *chunk),
            )
            kpi_rows, kpi_names = cursor.fetchall(), _KPI_NAMES
        else:
            kpi_rows = _recent_kpi_checkins(cursor, tenant, chunk, recent, facts.kpi_counts)
            kpi_names = _RECENT_KPI_NAMES
        for goal_id, *values in kpi_rows:
            facts.kpi_checkins[goal_id].append(dict(zip(kpi_names, values, strict=True)))
        for goal_id, checkin_id, held_on, entry in _rows_of_goals(
            cursor, "rm_development_checkins", "goal_id, checkin_id, held_on, entry", tenant, chunk
        ):
            facts.development_checkins[goal_id].append({**orjson.loads(entry), "checkin_id": checkin_id, "held_on": held_on})
        for goal_id, period_end in _rows_of_goals(cursor, "rm_missed_checkins", "goal_id, period_end", tenant, chunk):
            facts.missed[goal_id].append(period_end)
        facts.due.update(_rows_of_goals(cursor, "rm_checkin_schedules", "goal_id, due_on", tenant, chunk))
    # Sorted here, not by the database, so SQLite and PostgreSQL give the same order (their collations differ).
    for history in (*facts.kpi_checkins.values(), *facts.development_checkins.values()):
        history.sort(key=lambda c: (c["held_on"], c["checkin_id"]))
    for periods in facts.missed.values():
        periods.sort()
    cursor.execute(
        f"SELECT employee_id, document FROM rm_reviews WHERE tenant_id = ? AND employee_id IN ({marks})",
        (tenant, *employee_ids),
    )
    for employee_id, document in cursor.fetchall():
        facts.reviews[employee_id].append(orjson.loads(document))
    return facts
