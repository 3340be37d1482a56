"""Every SMS reply residents get, in one catalogue: plain text without diacritics (GSM-7), one
segment wherever possible (tests check each with long area names and numbers).

`render(name, **values)` fills a template; values are converted to GSM-7 and long ones are
shortened so the reply stays in one segment.
"""
import phonenumbers

from gateway.phone import national
from gateway.sms.encoding import count_segments, to_gsm

REPLIES = {
    "subscribed": "Da dang ky nhan tin {area}. Nhan TIN xem tin moi, PA <noi dung> de phan anh, HUY de ngung.",
    "subscribed_alias": "{old} nay thuoc {area}. Da dang ky nhan tin. Nhan TIN xem tin moi, HUY de ngung.",
    "rejoined": "Chao mung ban tro lai! Da dang ky nhan tin {area}. Nhan TIN xem tin moi, HUY de ngung.",
    "subscribe_how": "De dang ky, nhan DK <ten khu>, vi du: DK KP5 hoac DK THON TAN LOI.",
    "unknown_area": "Khong tim thay khu \"{text}\". Co phai: {suggestions}? Nhan lai DK <ma khu>.",
    "unknown_area_none": "Khong tim thay khu \"{text}\". Nhan DK <ma khu>, vi du DK {example}. Hoi them: goi {hotline}",
    "ambiguous_area": "\"{text}\" co {n} khu: {candidates}. Nhan lai DK <ma khu>, vi du DK {first}.",
    "no_news": "Chua co thong bao moi cho {area}. Nghe ban tin: goi {hotline}",
    "news_no_area": "Ban chua dang ky khu nao. Nhan DK <ma khu>, vi du DK KP5, roi nhan TIN de xem tin.",
    "report_received": "Da nhan phan anh #{number}. Can bo {area} se xu ly va bao lai. Nhan them tin de bo sung.",
    "report_follow_up": "Da bo sung vao phan anh #{number}. Cam on ban.",
    "report_how": "Hay nhan PA <noi dung phan anh>, vi du: PA den duong hong o hem 12.",
    "help": "Loa Xom: DK <ma khu> dang ky, TIN xem tin, PA <noi dung> phan anh, HUY ngung, OK xac nhan. Goi {hotline}",
    "opted_out": "Ban da ngung nhan tin tu Loa Xom. Nhan DK de dang ky lai.",
    "confirmed": "Cam on ban da xac nhan da nhan thong bao.",
    "nothing_to_confirm": "Khong co thong bao nao can xac nhan. Nhan TIN de xem tin moi.",
    "too_long": "Tin nhan qua dai (toi da {limit} ky tu). Hay nhan ngan gon hon.",
    # Polls (issue 21): receipts of answers.
    "poll_new": "Da ghi nhan y kien: {label}. Cam on ban! Muon doi, nhan so khac truoc han.",
    "poll_changed": "Da doi y kien thanh: {label}. Cam on ban!",
    "poll_same": "Y kien cua ban da duoc ghi nhan: {label}. Cam on ban!",
    "poll_late": "Cuoc hoi y kien da het han, y kien nay khong duoc tinh. Cam on ban!",
    "poll_out_of_range": "Chi co lua chon tu 1 den {n}. Xin nhan lai 1 so trong khoang do. Cam on ban!",
}
# Replies that may take two segments: they list what the resident must choose from.
MAY_SPAN = {"ambiguous_area", "unknown_area"}
MAX_VALUE = 40  # characters of one value (an area name, a quoted text) before it is shortened


def hotline_text(number):
    """A hotline number as people dial it (0263 3822 123), or "" when there is none."""
    if not number:
        return ""
    try:
        return national(number)
    except phonenumbers.NumberParseException:  # written in a form we cannot parse: shown as is
        return to_gsm(str(number))


def _short(value, limit=MAX_VALUE):
    """`value` within `limit` characters, cut after a whole list item or word ("KP10" never becomes "KP1")."""
    value = " ".join(to_gsm(str(value)).split())
    if len(value) <= limit:
        return value
    head = value[: limit - 3]
    if value[len(head)] not in " ,":
        for sep in (", ", " "):
            if sep in head:
                head = head[: head.rindex(sep)]
                break
    return head.rstrip(" ,.") + "..."


def render(name, **values):
    """The reply `name` with `values` filled in, as GSM-7 text."""
    template = REPLIES[name]
    text = _tidy(template.format(**{k: _short(v) for k, v in values.items()}))
    if count_segments(text)[1] > 1 and name not in MAY_SPAN:
        # Values made it too long: shorten them until it fits one segment.
        for limit in (30, 20, 12):
            text = _tidy(template.format(**{k: _short(v, limit) for k, v in values.items()}))
            if count_segments(text)[1] == 1:
                break
    return text


def _tidy(text):
    """A shortened value ending a sentence: "KP3 To 1, ...." → "KP3 To 1, ..."."""
    return text.replace("....", "...")


def area_list(areas, *, budget=100):
    """Areas as "KP1 (Khu pho 1), KP2 (...)", cut to `budget` characters with "..."."""
    out = []
    for area in areas:
        label = _area_label(area)
        if len(", ".join(out + [label])) > budget:
            out.append("...")
            break
        out.append(label)
    return ", ".join(out)


def _area_label(area):
    """A team is named with its neighbourhood ("KP5 To 2"); a neighbourhood by its code."""
    if area.level == "team" and area.parent is not None:
        return to_gsm(f"{area.parent.code} {area.name}")
    name = to_gsm(area.name)
    return area.code if area.code.lower() == name.replace(" ", "").lower() else f"{area.code} ({name})"
