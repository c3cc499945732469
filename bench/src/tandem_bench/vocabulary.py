"""The words of the synthetic organisation: divisions, their units, KPIs, skills and people's names.

Every KPI is (title, kpi name, unit, baseline range, relative change range, direction, decimals).
Every skill is (skill, development goal title, courses, certification or None, competency or None).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KpiTemplate:
    """A KPI a goal of a division can be measured by."""

    title: str
    name: str
    unit: str
    baseline: tuple[float, float]
    change: tuple[float, float]  # relative move from baseline to target, e.g. (0.10, 0.25)
    direction: str
    decimals: int


@dataclass(frozen=True)
class SkillTemplate:
    """A skill a development goal can build, with its courses, certification and competency."""

    skill: str
    title: str
    courses: tuple[str, ...]
    certification: str | None
    competency: str | None


@dataclass(frozen=True)
class Division:
    """A division: its departments (units), job titles, KPIs, skills and future roles."""

    name: str
    units: tuple[str, ...]
    individual_titles: tuple[str, ...]
    kpis: tuple[KpiTemplate, ...]
    skills: tuple[SkillTemplate, ...]
    future_roles: tuple[str, ...]


K = KpiTemplate
S = SkillTemplate

DIVISIONS: tuple[Division, ...] = (
    Division(
        "Sales",
        ("EMEA", "North America", "LATAM", "APAC", "DACH", "Nordics", "UK & Ireland", "Benelux", "Iberia", "France",
         "Enterprise", "Mid-Market"),
        ("Account Executive", "Sales Development Representative", "Account Manager", "Sales Engineer"),
        (
            K("Increase new client conversions", "new client conversion rate", "percent", (12, 25), (0.08, 0.2), "increase", 1),
            K("Grow new-business revenue", "new-business revenue", "EUR k", (300, 1500), (0.1, 0.25), "increase", 0),
            K("Shorten the sales cycle", "average sales cycle", "days", (45, 90), (0.1, 0.25), "decrease", 0),
            K("Raise the win rate on qualified deals", "win rate", "percent", (18, 30), (0.08, 0.2), "increase", 1),
        ),
        (
            S("negotiation", "Complete Advanced Negotiation Skills training and apply three techniques each week",
              ("Advanced Negotiation Skills", "Negotiating Value, Not Price"), "Advanced Negotiation Skills", "negotiation"),
            S("consultative selling", "Adopt consultative selling in discovery calls",
              ("Consultative Selling Foundations", "Discovery Call Clinic"), None, "customer focus"),
            S("pipeline analytics", "Analyse the pipeline with data: SQL and dashboards for sales",
              ("SQL for Sales", "Forecasting with Data"), "Data Analysis for Sales", None),
            S("executive presence", "Present to executive buyers with confidence",
              ("Executive Presence", "Storytelling for Sellers"), None, "communication"),
        ),
        ("Enterprise account lead", "Sales manager", "Key account director"),
    ),
    Division(
        "Engineering",
        ("Platform", "Infrastructure", "Data", "Mobile", "Payments", "Security", "Search", "Identity", "Developer Tools",
         "Web", "Integrations", "Reliability"),
        ("Software Engineer", "Senior Software Engineer", "Systems Engineer", "Site Reliability Engineer"),
        (
            K("Reduce unplanned downtime", "unplanned downtime", "hours per quarter", (6, 20), (0.3, 0.6), "decrease", 1),
            K("Cut the lead time for changes", "lead time for changes", "days", (4, 14), (0.2, 0.5), "decrease", 1),
            K("Raise automated test coverage", "test coverage", "percent", (45, 70), (0.1, 0.25), "increase", 1),
            K("Lower the change failure rate", "change failure rate", "percent", (12, 25), (0.2, 0.45), "decrease", 1),
        ),
        (
            S("cloud infrastructure", "Complete AWS Certified Cloud Practitioner training",
              ("AWS Cloud Practitioner Essentials", "Architecting on AWS"), "AWS Certified Cloud Practitioner", None),
            S("kubernetes", "Run production workloads on Kubernetes",
              ("Kubernetes Fundamentals", "Kubernetes for Operators"), "Certified Kubernetes Administrator", None),
            S("system design", "Lead the design of a service end to end",
              ("Designing Data-Intensive Applications reading group", "System Design Workshop"), None, "technical leadership"),
            S("incident management", "Lead incident reviews that change how we work",
              ("Incident Command", "Blameless Postmortems"), None, "ownership"),
        ),
        ("Cloud infrastructure engineer for the move to AWS", "Staff engineer", "Engineering manager"),
    ),
    Division(
        "Customer Success",
        ("Onboarding", "Support Tier 1", "Support Tier 2", "Renewals", "Enterprise Success", "SMB Success", "Training",
         "Community", "Escalations", "Implementation", "Partner Success", "Customer Operations"),
        ("Customer Success Manager", "Support Engineer", "Implementation Consultant", "Onboarding Specialist"),
        (
            K("Raise customer satisfaction", "CSAT", "score", (3.6, 4.3), (0.04, 0.1), "increase", 2),
            K("Reduce churn", "logo churn", "percent", (6, 14), (0.15, 0.35), "decrease", 1),
            K("Resolve tickets faster", "median time to resolution", "hours", (10, 36), (0.2, 0.4), "decrease", 1),
            K("Grow net revenue retention", "net revenue retention", "percent", (92, 99), (0.02, 0.06), "increase", 1),
        ),
        (
            S("de-escalation", "De-escalate difficult customer conversations",
              ("Handling Difficult Conversations", "Empathy in Support"), None, "customer focus"),
            S("product expertise", "Become a certified product expert",
              ("Product Deep Dive", "Admin Configuration Lab"), "Certified Product Expert", None),
            S("data-driven success", "Use health scores to act before churn",
              ("Customer Health Analytics", "SQL Basics"), None, None),
        ),
        ("Customer success team lead", "Enterprise success manager"),
    ),
    Division(
        "Marketing",
        ("Demand Generation", "Product Marketing", "Brand", "Content", "Events", "Digital", "Partner Marketing",
         "Marketing Operations", "Communications", "Field Marketing", "Growth", "Web Experience"),
        ("Marketing Specialist", "Content Strategist", "Campaign Manager", "Marketing Analyst"),
        (
            K("Generate more qualified leads", "marketing qualified leads", "count per month", (80, 400), (0.15, 0.35), "increase", 0),
            K("Lower the cost per lead", "cost per lead", "EUR", (60, 180), (0.1, 0.3), "decrease", 0),
            K("Grow organic traffic", "organic sessions", "k per month", (20, 120), (0.15, 0.4), "increase", 0),
        ),
        (
            S("marketing analytics", "Measure campaigns with attribution models",
              ("Marketing Attribution", "Google Analytics 4"), "Google Analytics Certification", None),
            S("copywriting", "Write copy that converts",
              ("Conversion Copywriting", "Editing for Clarity"), None, "communication"),
            S("marketing automation", "Automate nurture journeys",
              ("Marketing Automation Fundamentals",), "HubSpot Marketing Automation", None),
        ),
        ("Growth marketing lead", "Head of demand generation"),
    ),
    Division(
        "Operations",
        ("Procurement", "Logistics", "Facilities", "Supply Planning", "Vendor Management", "Quality", "Workplace",
         "Business Operations", "Process Excellence", "Fulfilment", "Inventory", "Travel"),
        ("Operations Analyst", "Procurement Specialist", "Logistics Coordinator", "Quality Engineer"),
        (
            K("Reduce order fulfilment time", "order fulfilment time", "hours", (20, 60), (0.15, 0.35), "decrease", 1),
            K("Cut procurement costs", "procurement spend", "EUR k", (200, 900), (0.05, 0.12), "decrease", 0),
            K("Raise on-time delivery", "on-time delivery", "percent", (82, 93), (0.03, 0.08), "increase", 1),
        ),
        (
            S("lean process improvement", "Earn a Lean Six Sigma Green Belt",
              ("Lean Six Sigma Green Belt",), "Lean Six Sigma Green Belt", None),
            S("supplier negotiation", "Negotiate supplier contracts with confidence",
              ("Strategic Sourcing", "Advanced Negotiation Skills"), None, "negotiation"),
            S("process automation", "Automate recurring operations work",
              ("Process Automation with Python", "RPA Basics"), None, None),
        ),
        ("Operations manager", "Process excellence lead"),
    ),
    Division(
        "Finance",
        ("Controlling", "Accounting", "FP&A", "Treasury", "Tax", "Payroll", "Billing", "Audit", "Procure to Pay",
         "Revenue Accounting", "Business Partnering", "Investor Relations"),
        ("Financial Analyst", "Accountant", "Controller", "Billing Specialist"),
        (
            K("Close the books faster", "days to close", "days", (7, 14), (0.2, 0.4), "decrease", 0),
            K("Improve forecast accuracy", "forecast accuracy", "percent", (80, 92), (0.03, 0.08), "increase", 1),
            K("Reduce days sales outstanding", "days sales outstanding", "days", (40, 70), (0.1, 0.25), "decrease", 0),
        ),
        (
            S("financial modelling", "Build driver-based financial models",
              ("Financial Modelling Masterclass",), "Financial Modelling & Valuation Analyst", None),
            S("business partnering", "Partner with budget owners on decisions",
              ("Finance Business Partnering",), None, "influence"),
            S("data analysis", "Automate reporting with SQL and Python",
              ("SQL for Finance", "Python for Analysts"), None, None),
        ),
        ("Finance business partner", "FP&A manager"),
    ),
    Division(
        "People",
        ("Talent Acquisition", "People Partners", "Learning", "Total Rewards", "People Operations", "People Analytics",
         "Employer Brand", "Diversity & Inclusion", "Workplace Experience", "Onboarding", "HR Systems", "Wellbeing"),
        ("Recruiter", "People Partner", "Learning Specialist", "People Analyst"),
        (
            K("Shorten the time to hire", "time to hire", "days", (35, 60), (0.1, 0.3), "decrease", 0),
            K("Raise the engagement score", "engagement score", "score", (3.5, 4.1), (0.04, 0.1), "increase", 2),
            K("Reduce regretted attrition", "regretted attrition", "percent", (6, 12), (0.15, 0.3), "decrease", 1),
        ),
        (
            S("coaching", "Coach managers through hard conversations",
              ("Coaching Skills for HR", "Difficult Conversations"), "ICF Associate Certified Coach", "coaching"),
            S("people analytics", "Base people decisions on data",
              ("People Analytics Foundations",), None, None),
            S("employment law", "Know employment law in our markets",
              ("Employment Law Essentials",), "CIPD Employment Law", None),
        ),
        ("People partner for engineering", "Head of talent"),
    ),
    Division(
        "Product",
        ("Core Product", "Growth", "Mobile Apps", "Analytics", "Payments", "Design", "Research", "Platform Product",
         "Integrations", "Admin Experience", "Onboarding", "Pricing"),
        ("Product Manager", "Product Designer", "UX Researcher", "Product Analyst"),
        (
            K("Raise feature adoption", "weekly active feature adoption", "percent", (20, 45), (0.1, 0.3), "increase", 1),
            K("Improve activation", "activation rate", "percent", (30, 55), (0.08, 0.2), "increase", 1),
            K("Ship the roadmap on time", "roadmap items shipped on time", "percent", (55, 75), (0.1, 0.25), "increase", 1),
        ),
        (
            S("product discovery", "Run continuous discovery with customers",
              ("Continuous Discovery Habits", "Customer Interviewing"), None, "customer focus"),
            S("experimentation", "Design and read A/B tests",
              ("Trustworthy Online Experiments", "Statistics for PMs"), None, None),
            S("stakeholder management", "Align stakeholders on the roadmap",
              ("Stakeholder Mapping", "Leading Without Authority"), None, "influence"),
        ),
        ("Group product manager", "Product lead for the platform"),
    ),
)

EXECUTIVE_KPIS: tuple[KpiTemplate, ...] = (
    K("Grow annual recurring revenue", "annual recurring revenue", "EUR m", (40, 120), (0.15, 0.3), "increase", 1),
    K("Raise the operating margin", "operating margin", "percent", (8, 16), (0.15, 0.3), "increase", 1),
    K("Raise employee engagement", "engagement score", "score", (3.6, 4.0), (0.04, 0.08), "increase", 2),
    K("Raise the net promoter score", "net promoter score", "points", (25, 45), (0.1, 0.25), "increase", 0),
)

LEADERSHIP_SKILLS: tuple[SkillTemplate, ...] = (
    S("coaching", "Coach each report with a development plan", ("Coaching for Managers",), None, "coaching"),
    S("delegation", "Delegate outcomes, not tasks", ("Delegation that Grows People",), None, "delegation"),
    S("strategic planning", "Plan the team's strategy a year ahead", ("Strategy for Managers",), None, "strategic thinking"),
    S("giving feedback", "Give timely, specific feedback", ("Radical Candor Workshop",), None, "feedback"),
)

MANAGER_TITLES = ("Vice President", "Director", "Senior Manager", "Manager", "Team Lead", "Team Lead", "Team Lead")

ROADBLOCKS = (
    "Two key accounts delayed their decisions to next quarter",
    "Waiting on another team's dependency",
    "A reorganisation cost two weeks of focus",
    "Tooling migration slowed the team down",
    "Understaffed after a departure; backfill in progress",
    "Priorities shifted mid-quarter",
    "Data needed for the KPI arrived late",
)

RESOURCES = (
    "A second pair of hands for the peak weeks",
    "Budget for a specialist tool",
    "Time with a senior colleague to review the approach",
    "Clearer priorities from leadership",
)

EVIDENCE = (
    "The KPI has stalled below plan for two quarters; deals and tickets stall at the same step",
    "Peers at the same level reach the target faster with this skill",
    "The last review named this gap as the main reason for the shortfall",
    "Customer feedback points to this skill as the missing piece",
    "Work that needs this skill is escalated to others every week",
)

FACTORS = (
    "Market conditions held back the first half; the second half recovered",
    "A reorganisation in spring cost several weeks of momentum",
    "Strong demand in Q3 lifted the result above plan",
    "A dependency on another team slipped by a quarter",
    "Steady execution week after week, with few surprises",
)

HOWS = (
    "Kept every commitment and helped newer colleagues along",
    "Worked across teams to remove blockers early",
    "Used data to decide where to spend time each week",
    "Stayed calm and customer-focused under pressure",
)

APPLICATIONS = (
    "Used the new technique in two customer conversations; both moved forward",
    "Applied it to this week's work and saved a day of rework",
    "Showed the team how it works; two colleagues use it now",
    "Turned the course exercise into a real improvement on the goal",
)

ASPIRATIONS = (
    "Wants to lead a team within two years",
    "Wants to grow as a specialist rather than a manager",
    "Interested in a rotation to another division",
    "Wants to mentor newer colleagues",
)

FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kofi", "Lena", "Mateo", "Nadia",
    "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe", "Aiko",
    "Bruno", "Carmen", "Dmitri", "Eva", "Farah", "Goran", "Hana", "Ivan", "Julia", "Kenji", "Laila", "Marco", "Nora",
)
LAST_NAMES = (
    "Okafor", "Lima", "Carter", "Martin", "Patel", "Wong", "Novak", "Schmidt", "Rossi", "Garcia", "Kowalski", "Ahmed",
    "Nakamura", "Silva", "Jensen", "Dubois", "Mensah", "Haddad", "Ivanova", "Kim", "Larsen", "Moreau", "Nguyen",
    "OBrien", "Petrov", "Quint", "Rahman", "Sato", "Tanaka", "Usman", "Varga", "Weber", "Yilmaz", "Zhang",
)
