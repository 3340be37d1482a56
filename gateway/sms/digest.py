"""Announcements as SMS: the digest of what is current for an area (the reply to TIN), and one
announcement's text for a broadcast. Plain GSM-7, within a segment budget that is never
exceeded, cut at word boundaries, ending with the hotline to call for the full text."""
from gateway.sms.encoding import count_segments, length, to_gsm
from gateway.sms.replies import hotline_text, render

URGENT = ("urgent", "emergency")
ELLIPSIS = "..."


def _capacity(segments):
    """Septets that fit in `segments` parts (before extension characters are accounted for)."""
    if segments < 1:
        raise ValueError("the segment budget is at least one SMS")
    return 160 if segments == 1 else 153 * segments


def _cut(text, limit):
    """`text` cut to at most `limit` septets at a word boundary, "..." marking the cut."""
    if length(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    if room <= 0:
        return ""
    out, used = [], 0
    for c in text:
        cost = length(c)
        if used + cost > room:
            break
        out.append(c)
        used += cost
    head = "".join(out)
    if text[len(head):len(head) + 1] not in ("", " "):  # cut inside a word: back to its start
        space = head.rfind(" ")
        if space > 0:
            head = head[:space]
    return head.rstrip(" ,.;:-") + ELLIPSIS


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
    """One announcement as plain text: "KHAN: title. body" (its own SMS text when it has one)."""
    text = announcement.sms_text or f"{announcement.title.rstrip('.:')}: {announcement.body}"
    text = " ".join(to_gsm(text).split())
    return ("KHAN: " + text) if announcement.priority in URGENT else text


def _suffix(hotline, words="Nghe day du"):
    number = hotline_text(hotline)
    return f" {words}: goi {number}" if number else ""


def announcement_sms(announcement, *, hotline, segments=1):
    """The SMS for one announcement: GSM-7, at most `segments` parts, ending with the hotline."""
    return _fit([announcement_text(announcement)], _suffix(hotline), segments)


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
    from gateway.broadcast.current import current_announcements

    name = f"{area.parent.name} {area.name}" if area.level == "team" and area.parent is not None else area.name
    return digest_text(current_announcements(session, area, now=now), area_name=name,
                       hotline=hotline, segments=segments)
