"""Announcements as SMS: the digest of what is current for an area (the reply to TIN), and one
announcement's text for a broadcast. Plain GSM-7, within a segment budget that is never
exceeded, ending with the hotline to call for the full text.

Shortening never cuts inside a word or a fact (a phone number, date, time, amount or place);
it keeps the first sentence and those carrying facts before the others, and says which facts
did not fit (`shorten`, `sms_plan`) so the official is told, never surprised."""
import re

from gateway.sms.encoding import count_segments, length, to_gsm
from gateway.sms.replies import hotline_text, render

URGENT = ("urgent", "emergency")
URGENT_PREFIX = "KHAN: "
ELLIPSIS = "..."
FULL_WORDS = "Nghe day du"
MAX_PARTS = 4  # SMS parts beyond which a text is shortened: old phones join long ones badly

# Facts residents need, in GSM-7 text: runs of words with digits (0912 345 678, 14/8, 8h30,
# 1,7 trieu) with their unit, and places (thon Tan Loi, nha van hoa, KP5).
_UNITS = r"trieu|tr|nghin|ngan|ty|dong|d|vnd|k|kg|gio|phut|ngay|thang|nam|ho|nguoi|con|lan|km|m"
_PLACE_WORDS = (r"thon|ap|ban|xom|khu pho|to dan pho|to|hem|ngo|kiet|duong|pho|cho|nha van hoa|truong|"
                r"tram y te|ubnd|xa|phuong|benh vien|san|cau|chua|dinh|nha tho")
_FACT = re.compile(
    rf"(?:(?i:{_PLACE_WORDS}) )?[^\s]*\d[^\s]*(?: [^\s]*\d[^\s]*)*(?: (?i:{_UNITS})\b)?"
    rf"|(?i:{_PLACE_WORDS})(?: [A-Z][a-z]*)+"
    r"|(?i:nha van hoa|tram y te|ubnd)")
_TRAILING = ".,;:!?)"
_SENTENCE = re.compile(r"(?<=[.!?;])\s+")
_SUFFIX = re.compile(r"\s+(?:Nghe day du|Chi tiet): goi [\d +]+$")


def facts(text):
    """The phone numbers, dates, times, amounts and places in `text`, in order."""
    return [f for f in (m.group(0).rstrip(_TRAILING) for m in _FACT.finditer(text)) if f]


def _fact_spans(text):
    return [(m.start(), m.start() + len(m.group(0).rstrip(_TRAILING))) for m in _FACT.finditer(text)]


def missing_facts(full, short):
    """Facts of `full` that `short` does not carry, as whole words (each named once)."""
    out = []
    for fact in facts(full):
        if fact not in out and not re.search(rf"(?<![\w,./:+-]){re.escape(fact)}(?![\w])", short):
            out.append(fact)
    return out


def _capacity(segments):
    """Septets that fit in `segments` parts (before extension characters are accounted for)."""
    if segments < 1:
        raise ValueError("the segment budget is at least one SMS")
    return 160 if segments == 1 else 153 * segments


def _cut(text, limit):
    """`text` cut to at most `limit` septets at a word boundary outside any fact, "..." marking the cut."""
    if length(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    if room <= 0:
        return ""
    end, used = 0, 0
    for c in text:
        cost = length(c)
        if used + cost > room:
            break
        end += 1
        used += cost
    if text[end:end + 1] not in ("", " "):  # cut inside a word: back to its start
        space = text.rfind(" ", 0, end)
        end = space if space > 0 else end
    for start, stop in _fact_spans(text):
        if start < end < stop:  # never half a phone number, date or place
            end = start
            break
    head = text[:end].rstrip(" ,.;:-(")
    return head + ELLIPSIS if head else ""


def shorten(text, limit):
    """(`text` within `limit` septets, facts it lost): whole sentences first (the first one, then
    those with facts, then the rest, in their order), a cut at a word only when one sentence is too long."""
    if length(text) <= limit:
        return text, []
    sentences = _SENTENCE.split(text)
    chosen = {0}
    order = [i for i, s in enumerate(sentences) if i and facts(s)] + [i for i, s in enumerate(sentences) if i and not facts(s)]

    def join(indices):
        out = " ".join(sentences[i] for i in sorted(indices))
        return out if len(indices) == len(sentences) or max(indices) == len(sentences) - 1 else out.rstrip(_TRAILING + " ") + ELLIPSIS

    if length(join(chosen)) > limit:
        short = _cut(text, limit)
    else:
        for i in order:
            if length(join(chosen | {i})) <= limit:
                chosen.add(i)
        short = join(chosen)
    return short, missing_facts(text, short)


def _fit(parts, suffix, segments):
    """Join `parts` and `suffix` within the budget, cutting where the room runs out."""
    for limit in range(_capacity(segments), 0, -1):
        text = _fill(parts, suffix, limit)
        if count_segments(text)[1] <= segments:
            return text
        # Otherwise an extension character at a part boundary cost a septet: one less.
    raise AssertionError("unreachable: an empty text is one segment")


def _fill(parts, suffix, limit):
    if length(suffix) > limit:
        return _cut(suffix.strip(), limit)
    room = limit - length(suffix)
    body = ""
    for part in parts:
        candidate = f"{body} {part}" if body else part
        if length(candidate) > room:
            body = _cut(candidate, room)  # what does not fit is cut, "..." saying more was left out
            break
        body = candidate
    return body + suffix if body else suffix.strip()


def announcement_text(announcement):
    """One announcement as plain text: "KHAN: title: body" (its own SMS text when it has one,
    without the hotline line the broadcast added)."""
    text = announcement.sms_text or f"{announcement.title.rstrip('.:')}: {announcement.body}"
    text = _SUFFIX.sub("", " ".join(to_gsm(text).split()))
    if announcement.priority in URGENT and not text.upper().startswith(URGENT_PREFIX.strip()):
        text = URGENT_PREFIX + text
    return text


def _suffix(hotline, words=FULL_WORDS):
    number = hotline_text(hotline)
    return f" {words}: goi {number}" if number else ""


def _sms(announcement, hotline, segments):
    """(the SMS in at most `segments` parts, the facts it could not carry)."""
    body, suffix = announcement_text(announcement), _suffix(hotline)
    for limit in range(_capacity(segments), 0, -1):
        if length(suffix) > limit:
            text, lost = _cut(suffix.strip(), limit), facts(body)
        else:
            short, lost = shorten(body, limit - length(suffix))
            text = short + suffix if short else suffix.strip()
        if count_segments(text)[1] <= segments:
            return text, lost
    raise AssertionError("unreachable: an empty text is one segment")


def announcement_sms(announcement, *, hotline, segments=1):
    """The SMS for one announcement: GSM-7, at most `segments` parts, ending with the hotline."""
    return _sms(announcement, hotline, segments)[0]


def sms_plan(announcement, *, hotline, max_parts=MAX_PARTS):
    """What compose offers when a text does not fit one SMS: the whole text in as many parts as it
    needs (shortened only beyond `max_parts`), and a one-part text, each with the facts it loses."""
    whole = announcement_text(announcement) + _suffix(hotline)
    needed = count_segments(whole)[1]
    full, full_lost = _sms(announcement, hotline, min(needed, max_parts))
    short, short_lost = _sms(announcement, hotline, 1)
    return {"needed": needed, "full": full, "full_parts": count_segments(full)[1], "full_lost": full_lost,
            "short": short, "short_lost": short_lost}


def default_sms(announcement, *, hotline):
    """The SMS when no official chose (the API, the command line): one part when it keeps every
    fact, else the parts the whole text needs (up to MAX_PARTS): facts are never dropped unasked."""
    one, lost = _sms(announcement, hotline, 1)
    return sms_plan(announcement, hotline=hotline)["full"] if lost else one


def digest_text(announcements, *, area_name, hotline, segments=1):
    """Current announcements (most pressing and newest first) → one SMS within the budget."""
    if not announcements:
        return render("no_news", area=area_name, hotline=hotline_text(hotline) or "tong dai xa")
    header = f"Tin {to_gsm(area_name)}:" if len(announcements) > 1 else ""
    items = [f"{i}) {announcement_text(a)}" if len(announcements) > 1 else announcement_text(a)
             for i, a in enumerate(announcements, 1)]
    return _fit(([header] if header else []) + items, _suffix(hotline, "Chi tiet"), segments)


def digest(session, area, *, hotline, segments=1, now=None):
    """The digest SMS for `area`: its current announcements and those of its ancestors."""
    from gateway.announcements.current import current_announcements

    return _digest(area, current_announcements(session, area, now=now), hotline, segments)


def _digest(area, announcements, hotline, segments):
    name = f"{area.parent.name} {area.name}" if area.level == "team" and area.parent is not None else area.name
    return digest_text(announcements, area_name=name, hotline=hotline, segments=segments)


def area_digest(session, area, *, version, default_hotline=None, segments=1, now):
    """`digest` for the area's own hotline (else `default_hotline`), from the per-area cache while
    the policy `version` holds (the same for every resident of the area: the `TIN` reply)."""
    from gateway.announcements.cache import area_cache
    from gateway.announcements.current import current_announcements, current_until

    cache, key = area_cache(), ("sms_digest", area.id, segments, default_hotline)
    text = cache.get(key, version, now)
    if text is None:
        announcements = current_announcements(session, area, now=now)
        text = _digest(area, announcements, area.inherited("hotline_number") or default_hotline, segments)
        cache.put(key, version, text, now=now, until=current_until(session, area, announcements, now=now))
    return text
