"""The demo county: the 13 municipalities of Jönköpings län, their schools, rooms and device ids.

Pure data and planning, no I/O. School names are plausible, not a register of real schools. Ids are
written for a technician reading a ticket: `jkpg-ekhagen-a12` is the agent (the Pi) in room A12 of
Ekhagens skola in Jönköping, `jkpg-ekhagen-a12-pj1` its first projector; every id is unique in the
county.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class School:
    name: str
    code: str  # short, lower-case ASCII, unique within its municipality


@dataclass(frozen=True)
class Municipality:
    name: str
    code: str  # short, lower-case ASCII, unique in the county
    schools: tuple[School, ...]


def municipalities() -> tuple[Municipality, ...]:
    """All 13 municipalities of Jönköpings län, 1-3 schools each, more in Jönköping."""
    def m(name: str, code: str, *schools: tuple[str, str]) -> Municipality:
        return Municipality(name, code, tuple(School(n, c) for n, c in schools))

    return (
        m("Jönköping", "jkpg", ("Ekhagens skola", "ekhagen"), ("Per Brahegymnasiet", "perbrahe"),
          ("Råslätts skola", "raslatt"), ("Sandagymnasiet", "sanda"), ("Torpaskolan", "torpa"),
          ("Bäckadalsgymnasiet", "backadal")),
        m("Aneby", "aneby", ("Furulidskolan", "furulid"), ("Sunnerbyskolan", "sunnerby")),
        m("Eksjö", "eksjo", ("Eksjö gymnasium", "gymn"), ("Prästängsskolan", "prastang"),
          ("Linnéskolan", "linne")),
        m("Gislaved", "gislaved", ("Gislaveds gymnasium", "gymn"), ("Öxabäcks skola", "oxabacks")),
        m("Gnosjö", "gnosjo", ("Kulltorpsskolan", "kulltorp"), ("Hillerstorps skola", "hillerst")),
        m("Habo", "habo", ("Furuskolan", "furu"), ("Kråkebo skola", "krakebo")),
        m("Mullsjö", "mullsjo", ("Sandgärdskolan", "sandgard"), ("Ribbaskolan", "ribba")),
        m("Nässjö", "nassjo", ("Brinellgymnasiet", "brinell"), ("Runnerydsskolan", "runneryd"),
          ("Ängsbacka skola", "angsback")),
        m("Sävsjö", "savsjo", ("Hofgårdsskolan", "hofgard"), ("Vrigstads skola", "vrigstad")),
        m("Tranås", "tranas", ("Holavedsgymnasiet", "holaved"), ("Junedalsskolan", "junedal"),
          ("Norrskolan", "norr")),
        m("Vaggeryd", "vaggeryd", ("Fenix", "fenix"), ("Hagafors skola", "hagafors")),
        m("Vetlanda", "vetlanda", ("Njudungsgymnasiet", "njudung"), ("Withalaskolan", "withala"),
          ("Kvarndammskolan", "kvarndam")),
        m("Värnamo", "varnamo", ("Finnvedens gymnasium", "finnved"), ("Gröndalsskolan", "grondal"),
          ("Apladalsskolan", "apladal")),
    )


# The n-th room planned at a school; an aula holds two projectors, a classroom one.
_ROOM_NAMES = ("A12", "Aula", "B11", "C21", "A14", "B23", "C24", "A16", "B27", "C28")
_TWO_PROJECTOR_ROOMS = frozenset({"Aula"})
DISPLAY_EVERY = 4  # every fourth room also has an SNMP display


@dataclass
class Room:
    municipality: str
    school: str
    room: str
    agent_id: str
    school_index: int  # position of the school in the county, for a per-school model choice
    projectors: list[int] = field(default_factory=list)  # indexes into the demo's projector fleet
    display: bool = False
    pdu: bool = False

    def projector_id(self, n: int) -> str:
        """The n-th (1-based) projector of the room."""
        return f"{self.agent_id}-pj{n}"

    @property
    def display_id(self) -> str:
        return f"{self.agent_id}-disp1"

    @property
    def pdu_id(self) -> str:
        return f"{self.agent_id}-pdu1"


def room_name(n: int) -> str:
    if n < len(_ROOM_NAMES):
        return _ROOM_NAMES[n]
    return f"{'ABC'[n % 3]}{30 + n}"


def interleaved_schools(county: tuple[Municipality, ...]) -> list[tuple[Municipality, School]]:
    """Each municipality's first school, then each one's second, ...: any prefix spreads over the county."""
    out: list[tuple[Municipality, School]] = []
    depth = max(len(m.schools) for m in county)
    for level in range(depth):
        out += [(m, m.schools[level]) for m in county if level < len(m.schools)]
    return out


def plan_rooms(projectors: int, county: tuple[Municipality, ...] | None = None) -> list[Room]:
    """Rooms for `projectors` projectors, a room at every school in turn (so 13 projectors already
    reach all 13 municipalities); the first room with two projectors (else the first room) gets a
    switched PDU feeding them."""
    if projectors < 1:
        raise ValueError("the demo needs at least one projector")
    schools = interleaved_schools(county or municipalities())
    rooms: list[Room] = []
    placed = 0
    level = 0
    while placed < projectors:
        for index, (municipality, school) in enumerate(schools):
            if placed >= projectors:
                break
            name = room_name(level)
            count = min(2 if name in _TWO_PROJECTOR_ROOMS else 1, projectors - placed)
            room = Room(municipality.name, school.name, name,
                        f"{municipality.code}-{school.code}-{name.lower()}", school_index=index,
                        projectors=list(range(placed, placed + count)))
            room.display = len(rooms) % DISPLAY_EVERY == DISPLAY_EVERY - 1
            rooms.append(room)
            placed += count
        level += 1
    next((r for r in rooms if len(r.projectors) > 1), rooms[0]).pdu = True
    return rooms
