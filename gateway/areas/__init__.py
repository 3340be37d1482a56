"""Finding areas by what people write: "KP5", "khu pho 5", "Khu phố 05", "thôn Tân Lợi", and
by the old names and codes of merged or renamed areas (aliases).

Only active areas are found: a retired or merged one drops out of pickers and matching, and
its old names lead to the area that took it over. Changing the tree is `gateway.areas.manage`,
lists in and out `gateway.areas.tables`, per-commune settings `gateway.areas.settings`.
"""
import difflib
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from gateway.models import Area, AreaAlias
from gateway.text import fold, strip_diacritics

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
    # The old name or code the text used, when it matched through an alias ("Khu phố 6").
    alias: str | None = None


def match_area(session, text, *, within=None, levels=("neighbourhood", "team")):
    """The active area `text` names among `levels` (below `within` when given), by its name,
    code or an old name or code.

    Exactly one match: `.area` (and `.alias` when an old name matched). Several, or none but
    similar names: `.candidates`."""
    conditions = [Area.level.in_(levels), Area.retired_at.is_(None)]
    if within is not None:
        conditions.append(Area.id.in_(within.descendant_ids(session)))
    areas = list(session.scalars(select(Area).where(*conditions).order_by(Area.id)))
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
    aliases = list(session.execute(
        select(AreaAlias, Area).join(Area, AreaAlias.area_id == Area.id).where(*conditions).order_by(AreaAlias.id)))
    hits = [(al, a) for al, a in aliases if al.key == wanted] or [
        (al, a) for al, a in aliases
        if wanted_bare and a.level == "neighbourhood" and _bare_key(al.name) == wanted_bare]
    by_area = {a.id: (al, a) for al, a in hits}
    if len(by_area) == 1:
        al, a = next(iter(by_area.values()))
        return AreaMatch(area=a, alias=al.name)
    if by_area:
        return AreaMatch(candidates=[a for _, a in by_area.values()], ambiguous=True)
    keys = {}
    for a in areas:
        keys.setdefault(area_key(a.name), a)
        keys.setdefault(area_key(a.code), a)
    for al, a in aliases:
        keys.setdefault(al.key, a)
    close = difflib.get_close_matches(wanted, list(keys), n=5, cutoff=0.7)
    seen, candidates = set(), []
    for k in close:
        if keys[k].id not in seen:
            seen.add(keys[k].id)
            candidates.append(keys[k])
    # A neighbourhood that looks alike stands for its teams: "TANLOI", not also "TANLOI To 4".
    candidates = [a for a in candidates if a.parent_id not in seen or a.level != "team"]
    return AreaMatch(candidates=candidates)


def current(area):
    """The area that carries on `area`: itself, or the one it was merged into (to the end of the chain)."""
    seen = set()
    while area is not None and area.merged_into_id is not None and area.id not in seen:
        seen.add(area.id)
        area = area.merged_into
    return area


def find_by_code(session, ref, *, within=None):
    """Active areas whose code is `ref`, else those with `ref` as an old code or name; exact, no guessing."""
    conditions = [Area.retired_at.is_(None)]
    if within is not None:
        conditions.append(Area.id.in_(within.descendant_ids(session)))
    code = normal_code(ref)
    found = list(session.scalars(select(Area).where(Area.code == code, *conditions).order_by(Area.id)))
    if found or not area_key(ref):
        return found
    # IN, not JOIN + DISTINCT: PostgreSQL cannot compare the JSON settings column for DISTINCT.
    aliased = select(AreaAlias.area_id).where(AreaAlias.key == area_key(ref))
    return list(session.scalars(select(Area).where(Area.id.in_(aliased), *conditions).order_by(Area.id)))


def normal_code(text):
    """A code as stored: no spaces or diacritics, upper case ("kp 5" → "KP5")."""
    return re.sub(r"\s+", "", strip_diacritics(str(text or ""))).upper()


def active_children(session, area):
    """The active areas directly below `area`, oldest first (the hotline picker's keypad order)."""
    return list(session.scalars(select(Area).where(Area.parent_id == area.id, Area.retired_at.is_(None))
                                .options(selectinload(Area.aliases)).order_by(Area.id)))


def spoken_name(area):
    """The name the hotline reads, with the old names residents still use:
    "Khu phố 5, gồm cả Khu phố 6 cũ", "Thôn Tân Thành, trước là Thôn Tân Lợi"."""
    merged = [a.name for a in area.aliases if a.kind == "name" and a.source == "merge"][:3]
    renamed = [a.name for a in area.aliases if a.kind == "name" and a.source != "merge"][:2]
    text = area.name
    if merged:
        text += ", gồm cả " + ", ".join(merged) + " cũ"
    if renamed:
        text += ", trước là " + ", ".join(renamed)
    return text
