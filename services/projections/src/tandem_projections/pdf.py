"""The review packet as a PDF, drawn with fpdf2 (pure Python: no browser or system renderer needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpdf import FPDF

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_INK, _MUTED, _BRAND, _DEV = (29, 36, 51), (102, 112, 133), (59, 91, 219), (122, 90, 248)
_HEALTH = {"on_track": (18, 183, 106), "at_risk": (247, 144, 9), "off_track": (240, 68, 56)}


def _unicode_font() -> tuple[Path, Path] | None:
    for folder in _FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            return regular, bold
    return None


def _number(value: float | None, unit: str | None = None) -> str:
    if value is None:
        return "-"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text}%" if unit in ("percent", "%") else f"{text} {unit}" if unit else text


class _Packet(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.packet_title = title
        font = _unicode_font()
        if font:
            self.add_font("Body", "", str(font[0]))
            self.add_font("Body", "B", str(font[1]))
            self.body_font = "Body"
        else:
            self.body_font = "Helvetica"  # latin-1 only: text is transliterated below
        self.set_auto_page_break(auto=True, margin=16)
        self.set_margins(16, 16, 16)

    def text_of(self, value: Any) -> str:
        text = "" if value is None else str(value)
        if self.body_font == "Helvetica":
            text = (text.replace("“", '"').replace("”", '"').replace("’", "'").replace("—", "-")
                    .replace("→", "->").replace("·", "-"))
            text = text.encode("latin-1", "replace").decode("latin-1")
        return text

    def header(self) -> None:
        self.set_font(self.body_font, "B", 9)
        self.set_text_color(*_MUTED)
        self.cell(0, 6, self.text_of(f"Tandem · {self.packet_title}"), new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.body_font, "", 8)
        self.set_text_color(*_MUTED)
        self.cell(0, 6, f"{self.page_no()}", align="R")

    def heading(self, text: str, size: int = 15, color: tuple[int, int, int] = _INK) -> None:
        self.set_font(self.body_font, "B", size)
        self.set_text_color(*color)
        self.multi_cell(0, size * 0.5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)

    def line_of(self, text: str, *, bold: bool = False, muted: bool = False, size: float = 10) -> None:
        self.set_font(self.body_font, "B" if bold else "", size)
        self.set_text_color(*(_MUTED if muted else _INK))
        self.multi_cell(0, size * 0.5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def bar(self, share: float | None, color: tuple[int, int, int]) -> None:
        width = self.w - self.l_margin - self.r_margin
        y = self.get_y() + 1
        self.set_fill_color(238, 240, 244)
        self.rect(self.l_margin, y, width, 2.5, style="F")
        if share:
            self.set_fill_color(*color)
            self.rect(self.l_margin, y, width * max(0.0, min(share, 100.0)) / 100, 2.5, style="F")
        self.set_y(y + 5)


def render_packet_pdf(packet: dict[str, Any]) -> bytes:
    """The packet's three steps as an A4 PDF."""
    employee, steps = packet["employee"], packet["steps"]
    pdf = _Packet(f"Review packet {employee['display_name']} {packet['cycle']}")
    pdf.set_title(f"Review packet: {employee['display_name']}, {packet['cycle']}")
    pdf.set_author("Tandem")
    pdf.add_page()
    pdf.heading(f"Review packet: {employee['display_name']}", 18)
    review = packet["review"]
    status = (f"review completed {review['completed_at'][:10]} by {review['reviewer_id']}" if review
              else f"prepared {packet['as_of']} for the review meeting")
    pdf.line_of(" · ".join(x for x in (employee.get("job_title"), employee.get("department"), f"cycle {packet['cycle']}", status) if x), muted=True)
    pdf.ln(4)

    pdf.heading(f"1 · {steps['performance']['title']}", 14, _BRAND)
    for goal in steps["performance"]["goals"]:
        kpi = goal["kpi"]
        pdf.line_of(goal["title"], bold=True, size=11.5)
        pdf.line_of(f"{kpi['name']} · target {_number(kpi['target'], kpi['unit'])} · baseline "
                    f"{_number(kpi['baseline'], kpi['unit'])} · actual {_number(goal['actual'], kpi['unit'])} · "
                    f"attainment {_number(goal['attainment'], '%')}"
                    + (f" · rating {_number(goal['rating'])}" if goal["rating"] is not None else ""), muted=True, size=9)
        pdf.bar(goal["attainment"], _HEALTH.get(goal["health"] or "", _BRAND))
        pdf.line_of(goal["result"])
        why = goal["why"]
        pdf.line_of(f"The why: {why['prompt']}", bold=True, size=9.5)
        for item in [why["answer"], *why["roadblocks_raised"], *why["resources_asked_for"]]:
            if item:
                pdf.line_of(f"· {item}", size=9.5)
        pdf.line_of(f"The how: {goal['how']['prompt']}", bold=True, size=9.5)
        pdf.line_of(goal["how"]["answer"] or "To discuss.", size=9.5)
        history = goal["check_in_history"]
        if history:
            shown = ", ".join(f"{c['held_on']}: {_number(c['kpi_value'], kpi['unit'])} ({c['status'].replace('_', ' ')})" for c in history[-12:])
            pdf.line_of(f"Check-ins ({len(history)}): {shown}", muted=True, size=8.5)
        pdf.ln(3)

    pdf.heading(f"2 · {steps['connections']['title']}", 14, _BRAND)
    pdf.line_of("Capability gaps", bold=True, size=11)
    for gap in steps["connections"]["capability_gaps"] or [None]:
        if gap is None:
            pdf.line_of("No capability gaps recorded.", muted=True)
            continue
        pdf.line_of(gap["prompt"], muted=True, size=9)
        covered = "development goal in place" if gap["covered_by"] else "no development goal yet"
        pdf.line_of(f"{gap['answer'] or 'No gap recorded yet.'} ({covered})", size=10)
    pdf.ln(2)
    pdf.line_of("Development that paid off", bold=True, size=11)
    for payoff in steps["connections"]["payoffs"] or [None]:
        if payoff is None:
            pdf.line_of("No payoff recorded yet.", muted=True)
            continue
        pdf.line_of(f"“{payoff['development_goal']}” → “{payoff['performance_goal']}”", size=10)
        for item in payoff["evidence"]:
            if item:
                pdf.line_of(f"· {item}", muted=True, size=9)
    pdf.ln(3)

    pdf.heading(f"3 · {steps['development']['title']}", 14, _BRAND)
    for goal in steps["development"]["goals"]:
        activities = goal["activities"]
        pdf.line_of(goal["title"], bold=True, size=11.5)
        pdf.line_of(
            f"{goal['skill'] or ''} · training {_number(activities['training_hours']['done'])}"
            f"/{_number(activities['training_hours']['target'])} h · mentorship {activities['mentorship_sessions']['done']}"
            f"/{activities['mentorship_sessions']['target'] or '-'} · certifications "
            f"{', '.join(activities['certifications']['done']) or 'none yet'}", muted=True, size=9)
        pdf.bar(goal["progress"], _DEV)
        feedback = goal["feedback"]
        if feedback and feedback.get("latest_rating") is not None:
            pdf.line_of(f"360 feedback on {feedback['competency']}: {_number(feedback['latest_rating'])} "
                        f"(target {_number(feedback['target_rating'])} of {_number(feedback['scale_max'])})", size=9.5)
        pdf.line_of(goal["prompt"], muted=True, size=9)
        pdf.line_of("Applied." if goal["applied"] else "No application of the skill recorded yet.", bold=True, size=9.5)
        for item in goal["evidence"]:
            pdf.line_of(f"· {item}", size=9.5)
        if goal.get("aspirations"):
            pdf.line_of(f"Aspirations: {goal['aspirations']}", size=9.5)
        pdf.ln(3)
    pdf.line_of("Next cycle", bold=True, size=11)
    for item in steps["development"]["planned_next_cycle"]:
        pdf.line_of(f"Agreed: {item['title']} · {item['skill']} · {item['hours_per_month']} h/month", size=10)
    for item in steps["development"]["suggested_next_cycle"]:
        pdf.line_of(f"Suggested: {item['title']} ({item['why']})", size=10)
    if not steps["development"]["planned_next_cycle"] and not steps["development"]["suggested_next_cycle"]:
        pdf.line_of("No open gaps: nothing to suggest.", muted=True)
    return bytes(pdf.output())
