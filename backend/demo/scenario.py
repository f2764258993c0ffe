"""The cast of the demo mission: a FICTIONAL country, parties, places, DDR sites and agreements.

Modelled on the published course of peace processes such as Liberia's (2003-2009: a ceasefire,
a comprehensive peace agreement, DDR with weapons collection and reintegration, Track I talks and
Track II dialogues), but every name here is invented. Coordinates fall in West Africa so that maps
draw something sensible; the places themselves do not exist.

The story the records tell: MUR drifts toward spoiler behaviour (rising violations, lagging
commitments, cancelled talks) while trust recovers between GOV and DFS (fewer clashes, kept
commitments, held dialogues). NPA stays roughly steady; KDM is a non-signatory militia.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.vocab import CommitmentCategory, IncidentCategory, PartyKind

LABEL = "Demo mission — fictional"
MISSION_DAYS = 540  # about 18 months, ending the day before the anchor date
MONTHS = MISSION_DAYS // 30

SPOILER = "MUR"
RECOVERING = ("GOV", "DFS")


@dataclass(frozen=True)
class PartySpec:
    code: str
    name: str
    kind: PartyKind
    signatory: bool
    aliases: tuple[str, ...]


PARTIES: tuple[PartySpec, ...] = (
    PartySpec(
        "GOV",
        "Varanda Transitional Armed Forces (fictional)",
        PartyKind.state_force,
        True,
        ("VTAF", "Government of Varanda (fictional)"),
    ),
    PartySpec(
        "MUR",
        "Movement for Unity and Reconstruction (fictional)",
        PartyKind.rebel_group,
        True,
        ("MUR fighters",),
    ),
    PartySpec(
        "DFS",
        "Democratic Front of the South (fictional)",
        PartyKind.rebel_group,
        True,
        ("DFS combatants",),
    ),
    PartySpec(
        "NPA",
        "Northern Patriotic Alliance (fictional)",
        PartyKind.rebel_group,
        True,
        ("NPA",),
    ),
    PartySpec(
        "KDM",
        "Kessa Defence Militia (fictional)",
        PartyKind.militia,
        False,
        ("Kessa hunters",),
    ),
)


@dataclass(frozen=True)
class Place:
    name: str
    admin1: str
    admin2: str
    latitude: float
    longitude: float


PLACES: dict[str, Place] = {
    p.name: p
    for p in (
        Place("Kessa Town", "Kessa County", "Kessa Central", 7.95, -10.35),
        Place("Foya Gate", "Kessa County", "Foya District", 8.25, -10.10),
        Place("Lower Moa Crossing", "Kessa County", "Moa District", 7.80, -10.60),
        Place("Dalo", "Upper Dalo", "Dalo Central", 7.30, -9.40),
        Place("Dalo Mines", "Upper Dalo", "Mines District", 7.42, -9.62),
        Place("Gbanmai", "Upper Dalo", "Gbanmai District", 7.05, -9.20),
        Place("Bomaru", "Bomaru County", "Bomaru Central", 6.75, -10.85),
        Place("Tiel Junction", "Bomaru County", "Junction District", 6.55, -10.60),
        Place("Port Tiel", "Grand Tiel", "Port District", 5.90, -10.00),
        Place("Kwele", "Grand Tiel", "Kwele District", 5.60, -9.70),
        Place("Sinoke", "Sinoke County", "Sinoke Central", 5.00, -8.90),
        Place("Nimara", "Sinoke County", "Nimara District", 5.30, -8.40),
        Place("Varanda City", "Capital District", "Central Ward", 6.30, -10.78),
    )
}

# Where each party's incidents happen.
AREAS: dict[str | None, tuple[str, ...]] = {
    "MUR": ("Kessa Town", "Foya Gate", "Lower Moa Crossing", "Dalo Mines", "Dalo"),
    "GOV": ("Varanda City", "Bomaru", "Tiel Junction", "Port Tiel", "Dalo", "Kessa Town"),
    "DFS": ("Port Tiel", "Kwele", "Sinoke", "Nimara"),
    "NPA": ("Dalo", "Gbanmai", "Tiel Junction", "Bomaru"),
    "KDM": ("Kessa Town", "Foya Gate", "Lower Moa Crossing"),
    None: tuple(PLACES),
}

C = IncidentCategory
VIOLENT = (C.armed_clash, C.shelling, C.movement_of_forces, C.weapons_in_restricted_zone)
AGAINST_CIVILIANS = (
    C.attack_on_civilians,
    C.abduction,
    C.child_recruitment,
    C.blockage_of_aid,
    C.sexual_violence,
    C.denial_of_access,
)


@dataclass(frozen=True)
class Dyad:
    """Who is alleged to act against whom, how often (incidents a month, first -> last month),
    the shape of the change (exponent over time), the categories, and how often a team verifies."""

    alleged: str | None
    target: str | None
    first: float
    last: float
    shape: float
    categories: tuple[IncidentCategory, ...]
    verified_share: float


DYADS: tuple[Dyad, ...] = (
    Dyad("MUR", "GOV", 4, 27, 1.6, (*VIOLENT, C.denial_of_access, C.hostile_propaganda), 0.75),
    Dyad("MUR", None, 2, 12, 1.6, AGAINST_CIVILIANS, 0.75),
    Dyad("MUR", "DFS", 1, 5, 1.4, VIOLENT, 0.7),
    Dyad("GOV", "MUR", 3, 9, 1.2, VIOLENT, 0.6),
    Dyad("GOV", "DFS", 18, 2, 0.6, (*VIOLENT, C.denial_of_access, C.hostile_propaganda), 0.55),
    Dyad("DFS", "GOV", 16, 2, 0.6, (*VIOLENT, C.abduction, C.hostile_propaganda), 0.55),
    Dyad("NPA", "GOV", 5, 5, 1.0, (*VIOLENT, C.denial_of_access), 0.6),
    Dyad("GOV", "NPA", 3, 3, 1.0, VIOLENT, 0.6),
    Dyad("KDM", None, 6, 7, 1.0, (C.attack_on_civilians, C.abduction, C.blockage_of_aid), 0.65),
    Dyad(None, None, 4, 4, 1.0, (C.armed_clash, C.attack_on_civilians, C.other), 0.4),
)

TEAMS = (
    "demo-patrol-sector-1",
    "demo-patrol-sector-2",
    "demo-patrol-sector-3",
    "demo-milobs-kessa",
    "demo-milobs-port-tiel",
    "demo-civil-affairs",
)
VERIFIERS = ("JVT Sector 1 (demo)", "JVT Sector 2 (demo)", "JVT Sector 3 (demo)", "JMC (demo)")
DESCRIPTIONS = {
    C.armed_clash: "Exchange of small-arms fire between {a} and {t} near {p}.",
    C.shelling: "Mortar rounds fired from {a} positions landed near {p}.",
    C.attack_on_civilians: "Armed men identified as {a} attacked villagers near {p}.",
    C.movement_of_forces: "A column of {a} vehicles moved toward {p} without notifying the JMC.",
    C.weapons_in_restricted_zone: "Heavy weapons of {a} seen inside the buffer zone at {p}.",
    C.denial_of_access: "{a} checkpoint refused a mission patrol passage at {p}.",
    C.blockage_of_aid: "{a} elements stopped a food convoy bound for {p}.",
    C.child_recruitment: "Reports of {a} recruiting boys at the school in {p}.",
    C.sexual_violence: "Survivors near {p} report sexual violence by {a} elements.",
    C.abduction: "Two traders abducted on the road to {p}, reportedly by {a}.",
    C.hostile_propaganda: "{a} radio broadcast calls to take up arms against {t} ({p}).",
    C.other: "Unexplained gunfire heard at night near {p}.",
}

# DDR: the sites where each armed group cantons, and its strength there (combatants).
DDR_SITES: tuple[tuple[str, str, int], ...] = (
    ("MUR", "Camp Kessa", 4500),
    ("MUR", "Dalo Cantonment", 3500),
    ("DFS", "Port Tiel Cantonment", 3000),
    ("DFS", "Sinoke DDR site", 2500),
    ("NPA", "Dalo Cantonment", 2000),
    ("NPA", "Tiel Junction DDR site", 1500),
)
# How far each group gets towards its targets by the end, and the day its reporting stalls.
DDR_REACH: dict[str, tuple[float, int]] = {
    "DFS": (0.93, 10_000),
    "NPA": (0.72, 10_000),
    "MUR": (0.3, 260),
}
# Women's share of combatants (IDDRS asks the breakdown; Liberia's DDR counted about a fifth).
DDR_WOMEN: dict[str, float] = {"DFS": 0.22, "NPA": 0.16, "MUR": 0.12}


@dataclass(frozen=True)
class AgreementSpec:
    key: str
    name: str
    kind: str
    signed_day: int
    summary: str


AGREEMENTS = (
    AgreementSpec(
        "ceasefire",
        "Varanda Ceasefire and Cessation of Hostilities Agreement (demo, fictional)",
        "ceasefire",
        0,
        "Ceasefire signed by the four armed signatories; a Joint Monitoring Committee (JMC) "
        "verifies violations.",
    ),
    AgreementSpec(
        "cpa",
        "Comprehensive Peace Agreement of Port Tiel (demo, fictional)",
        "peace",
        45,
        "Disengagement, DDR, a transitional government, a truth commission and elections.",
    ),
)

K = CommitmentCategory


@dataclass(frozen=True)
class CommitmentSpec:
    agreement: str
    reference: str
    title: str
    category: CommitmentCategory
    parties: tuple[str, ...]
    due_day: int
    # (day, level) changes of implementation; days since the mission began
    progress: tuple[tuple[int, str], ...]


ALL4 = ("GOV", "MUR", "DFS", "NPA")
COMMITMENTS: tuple[CommitmentSpec, ...] = (
    CommitmentSpec("ceasefire", "Art. 1", "Cease all hostilities from signature", K.ceasefire, ALL4, 7, ((10, "minimal"), (120, "intermediate"))),
    CommitmentSpec("ceasefire", "Art. 2", "Release prisoners of war and abductees through the ICRC", K.humanitarian, ("GOV", "DFS"), 60, ((30, "intermediate"), (52, "complete"))),
    CommitmentSpec("ceasefire", "Art. 3", "Guarantee safe passage for humanitarian convoys in Kessa County", K.humanitarian, ("MUR",), 30, ((40, "minimal"),)),
    CommitmentSpec("cpa", "Art. 4.1", "Disengage forces 15 km from the Grand Tiel line of contact", K.withdrawal, ("GOV", "DFS"), 105, ((70, "minimal"), (95, "intermediate"), (118, "complete"))),
    CommitmentSpec("cpa", "Art. 4.2", "Withdraw armed elements from the Dalo mining area", K.withdrawal, ("MUR",), 135, ((160, "minimal"),)),
    CommitmentSpec("cpa", "Art. 4.3", "Withdraw from the Kessa border crossings", K.withdrawal, ("MUR",), 180, ()),
    CommitmentSpec("cpa", "Art. 5.1", "Declare forces, weapons and ammunition to the JMC", K.ddr, ("DFS", "NPA"), 90, ((60, "intermediate"), (85, "complete"))),
    CommitmentSpec("cpa", "Art. 5.1b", "MUR declaration of forces, weapons and ammunition to the JMC", K.ddr, ("MUR",), 90, ((120, "minimal"),)),
    CommitmentSpec("cpa", "Art. 5.2", "Canton DFS combatants at the designated sites", K.ddr, ("DFS",), 180, ((130, "minimal"), (150, "intermediate"), (205, "complete"))),
    CommitmentSpec("cpa", "Art. 5.3", "Canton MUR combatants at the designated sites", K.ddr, ("MUR",), 180, ((200, "minimal"),)),
    CommitmentSpec("cpa", "Art. 5.4", "Hand over children associated with armed groups to child-protection agencies", K.ddr, ("MUR", "DFS", "NPA"), 120, ((100, "minimal"), (130, "intermediate"))),
    CommitmentSpec("cpa", "Art. 5.5", "Destroy collected weapons in public ceremonies", K.ddr, ("GOV",), 300, ((250, "intermediate"), (320, "complete"))),
    CommitmentSpec("cpa", "Art. 6.1", "Form a transitional government with seats for every signatory", K.political, ALL4, 120, ((90, "minimal"), (110, "intermediate"), (150, "complete"))),
    CommitmentSpec("cpa", "Art. 6.2", "Convene a constitutional review conference", K.political, ("GOV", "DFS", "NPA"), 450, ((300, "minimal"), (420, "intermediate"))),
    CommitmentSpec("cpa", "Art. 6.3", "Prepare national elections", K.political, ("GOV",), 700, ((380, "minimal"),)),
    CommitmentSpec("cpa", "Art. 7.1", "Vet and restructure the armed forces", K.political, ("GOV",), 720, ((260, "minimal"), (470, "intermediate"))),
    CommitmentSpec("cpa", "Art. 8.1", "Establish a Truth and Reconciliation Commission", K.confidence_building, ("GOV", "DFS"), 270, ((150, "minimal"), (230, "intermediate"), (300, "complete"))),
    CommitmentSpec("cpa", "Art. 8.2", "Joint community radio programme on the peace process", K.confidence_building, ("GOV", "DFS"), 200, ((120, "intermediate"), (190, "complete"))),
    CommitmentSpec("cpa", "Art. 8.3", "Stop hostile propaganda on faction radio", K.confidence_building, ("MUR",), 75, ((80, "minimal"), (400, "not_initiated"))),
    CommitmentSpec("cpa", "Art. 8.4", "Joint GOV-DFS patrols in Grand Tiel", K.confidence_building, ("GOV", "DFS"), 330, ((280, "intermediate"), (345, "complete"))),
    CommitmentSpec("cpa", "Art. 9.1", "Safe return of displaced people to Kessa County", K.humanitarian, ("GOV", "MUR"), 400, ((300, "minimal"),)),
    CommitmentSpec("cpa", "Art. 9.2", "Open humanitarian corridors to Sinoke County", K.humanitarian, ("GOV", "DFS"), 150, ((100, "intermediate"), (140, "complete"))),
)  # fmt: skip
