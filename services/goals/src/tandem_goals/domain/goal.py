"""The goal aggregate: SMART performance and development goals, their revisions, links and closing.

A performance goal is measured by a KPI and checked in on weekly or bi-weekly. A development goal
builds a skill, is measured by activity targets and/or a behavioural target, is checked in on monthly
or quarterly, may set capacity aside, and is aligned to the performance goals it serves by links.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from tandem_goals.domain.errors import (
    CadenceNotAllowed,
    DueBeforeStart,
    FinalValueMissing,
    GoalAlreadyClosed,
    GoalRuleBroken,
    KpiTargetAgainstDirection,
    LinkMustServePerformance,
    LinkNotFound,
    LinkTargetClosed,
    LinkToAnotherEmployeesGoal,
    LinkWouldRepeat,
    MeasureDoesNotFitKind,
    NothingToRevise,
    ParentWouldCycle,
    RatingAboveScale,
    RationaleIncomplete,
    StatusNotAllowed,
)
from tandem_goals.domain.values import (
    ALLOWED_CADENCES,
    ActivityTargets,
    BehaviouralTarget,
    Cadence,
    Capacity,
    GoalKind,
    GoalLevel,
    GoalOutcome,
    GoalStatus,
    Kpi,
    KpiDirection,
    Link,
    LinkRationale,
    LinkTarget,
    TargetChange,
)

REVISABLE_FIELDS = (
    "title",
    "description",
    "start_date",
    "due_date",
    "cadence",
    "parent_goal_id",
    "level",
    "status",
    "kpi",
    "skill",
    "activity_targets",
    "behavioural_target",
    "capacity",
)
# JSON keeps a StrEnum as its string; these fields are turned back into members when recorded.
_ENUM_FIELDS: dict[str, type] = {"cadence": Cadence, "status": GoalStatus, "level": GoalLevel, "kind": GoalKind}


def _member(name: str, value: Any) -> Any:
    enum = _ENUM_FIELDS.get(name)
    return enum(value) if enum is not None and value is not None else value


class Goal(Aggregate):
    """A SMART goal of one employee in one cycle."""

    if TYPE_CHECKING:  # the @event decorators below make these classes at run time; declared for the type checker
        Set: ClassVar[type[Aggregate.Created]]
        Revised: ClassVar[type[Aggregate.Event]]
        Linked: ClassVar[type[Aggregate.Event]]
        Unlinked: ClassVar[type[Aggregate.Event]]
        Closed: ClassVar[type[Aggregate.Event]]

    @staticmethod
    def create_id(goal_id: UUID) -> UUID:
        return goal_id

    # --- deciding -------------------------------------------------------------------------------------

    @classmethod
    def set(
        cls,
        *,
        goal_id: UUID,
        tenant_id: str,
        owner_id: str,
        set_by: str,
        kind: GoalKind,
        cycle: str,
        title: str,
        description: str,
        start_date: date,
        due_date: date,
        cadence: Cadence | None,
        parent_goal_id: UUID | None,
        level: GoalLevel,
        kpi: Kpi | None,
        skill: str | None,
        activity_targets: ActivityTargets | None,
        behavioural_target: BehaviouralTarget | None,
        capacity: Capacity | None,
        status: GoalStatus,
        occurred_at: datetime,
    ) -> Goal:
        """Set a goal, refusing one that is not SMART for its kind."""
        if activity_targets is not None and activity_targets.is_empty:
            activity_targets = None
        cadence = cadence or ALLOWED_CADENCES[kind][0]
        _check_smart(kind, cadence, start_date, due_date, kpi, skill, activity_targets, behavioural_target, capacity)
        if status is GoalStatus.CLOSED:
            raise StatusNotAllowed("a goal is set as draft or active; closing is its own command")
        return cls(
            goal_id=goal_id,
            tenant_id=tenant_id,
            owner_id=owner_id,
            set_by=set_by,
            kind=kind,
            cycle=cycle,
            title=title,
            description=description,
            start_date=start_date,
            due_date=due_date,
            cadence=cadence,
            parent_goal_id=parent_goal_id,
            level=level,
            kpi=kpi,
            skill=skill,
            activity_targets=activity_targets,
            behavioural_target=behavioural_target,
            capacity=capacity,
            status=status,
            occurred_at=occurred_at,
        )

    def revise(
        self,
        *,
        changes: dict[str, Any],
        reason: str,
        revised_by: str,
        occurred_at: datetime,
        parent_ancestry: tuple[UUID, ...] = (),
    ) -> None:
        """Revise what the goal aims at, with a reason. ``parent_ancestry`` is the new parent's chain upwards."""
        self._refuse_if_closed()
        unknown = set(changes) - set(REVISABLE_FIELDS)
        if unknown:
            raise GoalRuleBroken(
                f"not revisable: {', '.join(sorted(unknown))}", field=sorted(unknown)[0], rule="revisable_field"
            )
        if not reason.strip():
            raise GoalRuleBroken("a revision says why", field="reason", rule="reason_given")
        if isinstance(changes.get("activity_targets"), ActivityTargets) and changes["activity_targets"].is_empty:
            changes = {**changes, "activity_targets": None}
        changed = {name: value for name, value in changes.items() if getattr(self, name) != value}
        if not changed:
            raise NothingToRevise("the revision changes nothing")
        if "status" in changed and not (self.status is GoalStatus.DRAFT and changed["status"] is GoalStatus.ACTIVE):
            raise StatusNotAllowed(f"a {self.status} goal cannot become {changed['status']}; close it instead")
        new_parent = changed.get("parent_goal_id")
        if new_parent is not None and (new_parent == self.id or self.id in parent_ancestry):
            raise ParentWouldCycle("the goal would cascade from itself")
        after = {name: changed.get(name, getattr(self, name)) for name in REVISABLE_FIELDS}
        _check_smart(
            self.kind,
            after["cadence"],
            after["start_date"],
            after["due_date"],
            after["kpi"],
            after["skill"],
            after["activity_targets"],
            after["behavioural_target"],
            after["capacity"],
        )
        previous = {name: getattr(self, name) for name in changed}
        self._revised(
            changed=changed,
            previous=previous,
            reason=reason,
            revised_by=revised_by,
            occurred_at=occurred_at,
            **self._stream,
        )

    def link(
        self,
        *,
        link_id: UUID,
        target: LinkTarget,
        rationale: LinkRationale,
        skill: str | None,
        evidence: str | None,
        future_role: str | None,
        linked_by: str,
        occurred_at: datetime,
    ) -> Link:
        """Align this development goal to the performance goal it serves, saying why."""
        self._refuse_if_closed()
        if self.kind is not GoalKind.DEVELOPMENT:
            raise LinkMustServePerformance(
                "only a development goal is linked, to the performance goal it serves", field="goal_id"
            )
        if target.kind is not GoalKind.PERFORMANCE:
            raise LinkMustServePerformance("a development goal serves a performance goal", field="performance_goal_id")
        if target.tenant_id != self.tenant_id:
            raise LinkMustServePerformance("both goals belong to the same organisation", field="performance_goal_id")
        if target.status is GoalStatus.CLOSED:
            raise LinkTargetClosed("the performance goal is closed")
        if any(link.performance_goal_id == target.goal_id for link in self.links.values()):
            raise LinkWouldRepeat("the goals are linked already")
        if target.owner_id != self.owner_id and target.level is GoalLevel.INDIVIDUAL:
            raise LinkToAnotherEmployeesGoal(
                "another employee's performance goal can be served only if it is an organisation or team goal"
            )
        if rationale is LinkRationale.CAPABILITY_GAP:
            skill = skill or self.skill
            if not evidence:
                raise RationaleIncomplete("a capability gap names the evidence of the shortfall", field="evidence")
            future_role = None
        else:
            if not future_role:
                raise RationaleIncomplete("a future-role link names the role or strategic need", field="future_role")
            evidence = None
        link = Link(
            link_id=link_id,
            performance_goal_id=target.goal_id,
            performance_goal_owner_id=target.owner_id,
            rationale=rationale,
            skill=skill,
            evidence=evidence,
            future_role=future_role,
        )
        self._linked(link=link, linked_by=linked_by, occurred_at=occurred_at, **self._stream)
        return link

    def unlink(self, *, link_id: UUID, reason: str, unlinked_by: str, occurred_at: datetime) -> None:
        """Remove an alignment."""
        self._refuse_if_closed()
        if link_id not in self.links:
            raise LinkNotFound(f"the goal has no link {link_id}")
        self._unlinked(
            link_id=link_id,
            performance_goal_id=self.links[link_id].performance_goal_id,
            reason=reason,
            unlinked_by=unlinked_by,
            occurred_at=occurred_at,
            **self._stream,
        )

    def close(
        self, *, outcome: GoalOutcome, final_value: Decimal | None, note: str, closed_by: str, occurred_at: datetime
    ) -> None:
        """Close the goal with its outcome; it never changes again."""
        self._refuse_if_closed()
        if self.kind is GoalKind.PERFORMANCE and outcome is not GoalOutcome.ABANDONED and final_value is None:
            raise FinalValueMissing("a performance goal closes with the KPI's final value")
        if self.kind is GoalKind.DEVELOPMENT and final_value is not None:
            raise GoalRuleBroken(
                "a development goal has no KPI value", field="final_value", rule="final_value_of_performance_goal"
            )
        self._closed(
            outcome=outcome, final_value=final_value, note=note, closed_by=closed_by, occurred_at=occurred_at, **self._stream
        )

    def _refuse_if_closed(self) -> None:
        if self.status is GoalStatus.CLOSED:
            raise GoalAlreadyClosed("the goal is closed and never changes again")

    @property
    def _stream(self) -> dict[str, str]:
        # Every recorded event names its tenant and owner, so it can be published without the aggregate.
        return {"tenant_id": self.tenant_id, "owner_id": self.owner_id}

    @property
    def as_link_target(self) -> LinkTarget:
        """What a development goal needs to know of this goal to link to it."""
        return LinkTarget(self.id, self.tenant_id, self.owner_id, self.kind, self.level, self.status)

    @property
    def committed_hours_per_month(self) -> Decimal:
        """Development hours this goal takes from the owner's monthly work plan (none once closed)."""
        if self.capacity is None or self.status is GoalStatus.CLOSED:
            return Decimal(0)
        return self.capacity.hours_per_month

    # --- recording ------------------------------------------------------------------------------------

    @event("Set")
    def __init__(
        self,
        goal_id: UUID,
        tenant_id: str,
        owner_id: str,
        set_by: str,
        kind: GoalKind,
        cycle: str,
        title: str,
        description: str,
        start_date: date,
        due_date: date,
        cadence: Cadence,
        parent_goal_id: UUID | None,
        level: GoalLevel,
        kpi: Kpi | None,
        skill: str | None,
        activity_targets: ActivityTargets | None,
        behavioural_target: BehaviouralTarget | None,
        capacity: Capacity | None,
        status: GoalStatus,
        occurred_at: datetime,
    ) -> None:
        self.tenant_id = tenant_id
        self.owner_id = owner_id
        self.set_by = set_by
        self.kind = GoalKind(kind)
        self.cycle = cycle
        self.title = title
        self.description = description
        self.start_date = start_date
        self.due_date = due_date
        self.cadence = Cadence(cadence)
        self.parent_goal_id = parent_goal_id
        self.level = GoalLevel(level)
        self.kpi = kpi
        self.skill = skill
        self.activity_targets = activity_targets
        self.behavioural_target = behavioural_target
        self.capacity = capacity
        self.status = GoalStatus(status)
        self.set_at = occurred_at
        self.links: dict[UUID, Link] = {}
        self.target_history: list[TargetChange] = []
        self.revisions = 0
        self.outcome: GoalOutcome | None = None
        self.final_value: Decimal | None = None
        self.closed_at: datetime | None = None

    @event("Revised")
    def _revised(
        self,
        changed: dict[str, Any],
        previous: dict[str, Any],
        reason: str,
        revised_by: str,
        occurred_at: datetime,
        tenant_id: str,
        owner_id: str,
    ) -> None:
        old_kpi, new_kpi = previous.get("kpi"), changed.get("kpi")
        if old_kpi is not None and new_kpi is not None and old_kpi.target != new_kpi.target:
            self.target_history.append(TargetChange(occurred_at, old_kpi.target, new_kpi.target, reason))
        for name, value in changed.items():
            setattr(self, name, _member(name, value))
        self.revisions += 1

    @event("Linked")
    def _linked(self, link: Link, linked_by: str, occurred_at: datetime, tenant_id: str, owner_id: str) -> None:
        self.links[link.link_id] = link

    @event("Unlinked")
    def _unlinked(
        self,
        link_id: UUID,
        performance_goal_id: UUID,
        reason: str,
        unlinked_by: str,
        occurred_at: datetime,
        tenant_id: str,
        owner_id: str,
    ) -> None:
        del self.links[link_id]

    @event("Closed")
    def _closed(
        self,
        outcome: GoalOutcome,
        final_value: Decimal | None,
        note: str,
        closed_by: str,
        occurred_at: datetime,
        tenant_id: str,
        owner_id: str,
    ) -> None:
        self.status = GoalStatus.CLOSED
        self.outcome = GoalOutcome(outcome)
        self.final_value = final_value
        self.closed_at = occurred_at


def _check_smart(
    kind: GoalKind,
    cadence: Cadence,
    start_date: date,
    due_date: date,
    kpi: Kpi | None,
    skill: str | None,
    activity_targets: ActivityTargets | None,
    behavioural_target: BehaviouralTarget | None,
    capacity: Capacity | None,
) -> None:
    _check_measure(kind, kpi, skill, activity_targets, behavioural_target, capacity)
    if cadence not in ALLOWED_CADENCES[kind]:
        allowed = " or ".join(ALLOWED_CADENCES[kind])
        raise CadenceNotAllowed(f"a {kind} goal is checked in on {allowed}, not {cadence}")
    if due_date < start_date:
        raise DueBeforeStart("the due date must not be before the start date")


def _check_measure(
    kind: GoalKind,
    kpi: Kpi | None,
    skill: str | None,
    activity_targets: ActivityTargets | None,
    behavioural_target: BehaviouralTarget | None,
    capacity: Capacity | None,
) -> None:
    if kind is GoalKind.PERFORMANCE:
        if kpi is None:
            raise MeasureDoesNotFitKind("a performance goal is measured by a KPI", field="kpi")
        for name, value in (
            ("skill", skill),
            ("activity_targets", activity_targets),
            ("behavioural_target", behavioural_target),
            ("capacity", capacity),
        ):
            if value is not None:
                raise MeasureDoesNotFitKind(f"{name} belongs to development goals, not performance goals", field=name)
        if kpi.target == kpi.baseline:
            raise KpiTargetAgainstDirection("the KPI target must differ from its baseline")
        if (kpi.direction is KpiDirection.INCREASE) != (kpi.target > kpi.baseline):
            side = "above" if kpi.direction is KpiDirection.INCREASE else "below"
            raise KpiTargetAgainstDirection(f"a KPI to {kpi.direction} needs a target {side} its baseline")
        return
    if kpi is not None:
        raise MeasureDoesNotFitKind("a development goal is measured by activities or behaviour, not a KPI", field="kpi")
    if not skill:
        raise MeasureDoesNotFitKind("a development goal names the skill it builds", field="skill")
    if activity_targets is None and behavioural_target is None:
        raise MeasureDoesNotFitKind(
            "a development goal needs activity targets, a behavioural target, or both", field="activity_targets"
        )
    if behavioural_target is not None and behavioural_target.target_rating > behavioural_target.rating_scale_max:
        raise RatingAboveScale("the target rating is above the rating scale")
