"""Finding areas by what people write: "KP5", "khu pho 5", "Khu phố 05", "thôn Tân Lợi"."""
import difflib
import re
from dataclasses import dataclass, field

from sqlalchemy import select

from gateway.models import Area
from gateway.text import fold

# Local words for kinds of area, folded, longest first, → one short token.
_KIND_WORDS = (
    ("to dan pho", "tdp"), ("khu pho", "kp"), ("thi tran", "tt"), ("khu", "kp"),
    ("phuong", "p"), ("thon", "thon"), ("ban", "ban"), ("xom", "xom"), ("ap", "ap"),
    ("xa", "xa"), ("tdp", "tdp"), ("kp", "kp"), ("to", "to"),
)
_KIND_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w, _ in _KIND_WORDS) + r")\b")
_KIND_MAP = dict(_KIND_WORDS)


def area_key(text):
    """A canonical key: kind words shortened, numbers without leading zeros, no spaces."""
    folded = fold(text)
    folded = re.sub(r"\b(kp|tdp|to)(\d)", r"\1 \2", folded)  # "kp5" → "kp 5"
    folded = _KIND_RE.sub(lambda m: _KIND_MAP[m.group(1)], folded)
    folded = re.sub(r"\b0+(\d)", r"\1", folded)
    return folded.replace(" ", "")


def _bare_key(text):
    """The key without its kind word: "Thôn Tân Lợi" → "tanloi", "Khu phố 5" → "5"."""
    folded = _KIND_RE.sub("", fold(text))
    folded = re.sub(r"\b0+(\d)", r"\1", folded)
    return folded.replace(" ", "")


def _keys(area):
    """The keys an area is known by: its code and name, and a team's with its neighbourhood's
    ("KP5 To 2", "Khu pho 5 to 2"), so one team among many can be named."""
    keys = {area_key(area.code), area_key(area.name)}
    if area.level == "team" and area.parent is not None:
        keys |= {area_key(f"{area.parent.code} {area.name}"), area_key(f"{area.parent.name} {area.name}")}
    return keys


@dataclass
class AreaMatch:
    """The area a text names, or the candidates when it is unclear or unknown."""

    area: Area | None = None
    candidates: list = field(default_factory=list)
    # True when the text names several areas exactly ("To 1" in every neighbourhood); False
    # when the candidates are only names that look alike.
    ambiguous: bool = False


def match_area(session, text, *, within=None, levels=("neighbourhood", "team")):
    """The area `text` names among `levels` (below `within` when given).

    Exactly one match: `.area`. Several, or none but similar names: `.candidates`."""
    query = select(Area).where(Area.level.in_(levels))
    if within is not None:
        query = query.where(Area.id.in_(within.descendant_ids(session)))
    areas = list(session.scalars(query.order_by(Area.id)))
    wanted, wanted_bare = area_key(text), _bare_key(text)
    if not wanted:
        return AreaMatch()
    exact = [a for a in areas if wanted in _keys(a)]
    if not exact and wanted_bare:
        exact = [a for a in areas if wanted_bare in (_bare_key(a.name), area_key(a.code))
                 and a.level == "neighbourhood"]
    if len(exact) == 1:
        return AreaMatch(area=exact[0])
    if exact:
        return AreaMatch(candidates=exact, ambiguous=True)
    keys = {}
    for a in areas:
        keys.setdefault(area_key(a.name), a)
        keys.setdefault(area_key(a.code), a)
    close = difflib.get_close_matches(wanted, list(keys), n=5, cutoff=0.7)
    seen, candidates = set(), []
    for k in close:
        if keys[k].id not in seen:
            seen.add(keys[k].id)
            candidates.append(keys[k])
    return AreaMatch(candidates=candidates)


def area_choices(session, parent):
    """The areas under `parent` in keypad order ("1" is the first by id), retired ones left out."""
    query = select(Area).where(Area.parent_id == parent.id).order_by(Area.id)
    retired = getattr(Area, "retired_at", None)
    if retired is not None:
        query = query.where(retired.is_(None))
    return {str(i): area for i, area in enumerate(session.scalars(query), start=1)}
