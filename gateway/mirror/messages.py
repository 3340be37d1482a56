"""What the group reads: a report, a status change. Vietnamese with diacritics (group members
have smartphones), never a full phone number."""
from zoneinfo import ZoneInfo

from gateway.categories import label
from gateway.models import STATUS_LABELS
from gateway.phone import mask, mask_text

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
CHANNEL_LABELS = {"sms": "tin nhắn SMS", "voice": "gọi tổng đài", "web": "trang web", "open311": "Open311"}

def local_time(moment):
    return moment.astimezone(VIETNAM).strftime("%H:%M ngày %d/%m/%Y")


def area_label(area):
    """An area as the group reads it: a team with its neighbourhood ("Khu phố 5, Tổ 3")."""
    if area.level == "team" and area.parent is not None:
        return f"{area.parent.name}, {area.name}"
    return area.name


def report_text(report, *, recording_url=None):
    """The message that mirrors a new report into its area's group."""
    area = area_label(report.area) if report.area else "chưa rõ khu vực"
    lines = [f"Phản ánh #{report.number} · {area} · {label(report.category)}"]
    sender = mask(report.phone) if report.phone else "không rõ số"
    lines.append(f"Từ: {sender} ({CHANNEL_LABELS.get(report.channel, report.channel)})")
    if report.text:
        lines.append(f"«{mask_text(report.text)}»")
    if report.recording_id or report.recording_url:
        lines.append("Phản ánh bằng giọng nói" + (f": nghe tại {recording_url}" if recording_url else "."))
        if report.transcript:
            lines.append(f"Bản ghi tự động: «{mask_text(report.transcript)}»")
    lines.append(local_time(report.created_at))
    lines.append(f"Trả lời tin này, hoặc nhắn \"#{report.number} nội dung\", để nhắn lại người phản ánh.")
    return "\n".join(lines)


def status_text(report, status, note=""):
    """The message that tells the group a report's status changed."""
    text = f"Phản ánh #{report.number}: {STATUS_LABELS.get(status, status)}."
    if note:
        text += f" {mask_text(note)}"
    return text


def follow_up_text(report, text):
    """A resident's further text on a report, posted as a reply to the report's message."""
    sender = mask(report.phone) if report.phone else "người phản ánh"
    return f"Phản ánh #{report.number} · {sender} nhắn thêm: «{mask_text(text)}»"


def reply_text(report, text):
    """The record, in the group, of a reply relayed to the reporter."""
    return f"Đã nhắn người phản ánh #{report.number}: «{mask_text(text)}»"


PRIORITY_LABELS = {"urgent": "KHẨN", "emergency": "KHẨN CẤP"}


def announcement_text(announcement, *, audio_url=None):
    """The message that carries an announcement into an area's group, with a link to its audio."""
    label = PRIORITY_LABELS.get(announcement.priority)
    lines = [("[" + label + "] " if label else "") + f"Thông báo: {announcement.title}"]
    if announcement.body:
        lines.append(announcement.body)  # the official's own public words (a hotline stays readable)
    if audio_url:
        lines.append(f"Nghe thông báo: {audio_url}")
    lines.append(local_time(announcement.send_at or announcement.created_at))
    return "\n".join(lines)
