"""Working a report: it is mirrored into the group when it arrives, officials move it through
its statuses, and every change is texted to the reporter and posted in the group."""
import logging

from sqlalchemy import select

from gateway.mirror import messages
from gateway.mirror.outbound import queue_post
from gateway.models import Area, REPORT_STATUSES, STATUS_LABELS, Delivery
from gateway.reports.records import add_event
from gateway.sms_queue import queue_sms

log = logging.getLogger(__name__)

# Allowed moves; a closed report can be reopened (back to in progress).
TRANSITIONS = {
    "new": {"acknowledged", "in_progress", "resolved", "rejected"},
    "acknowledged": {"in_progress", "resolved", "rejected"},
    "in_progress": {"resolved", "rejected"},
    "resolved": {"in_progress"},
    "rejected": {"in_progress"},
}
# SMS to the reporter: plain text any phone shows (the send job converts any note to GSM-7).
SMS_STATUS = {
    "acknowledged": "Phan anh #{n} da duoc tiep nhan.",
    "in_progress": "Phan anh #{n} dang duoc xu ly.",
    "resolved": "Phan anh #{n} da duoc giai quyet.",
    "rejected": "Phan anh #{n} khong duoc xu ly.",
}
SMS_REPLY = "Tra loi phan anh #{n}: {text}"


class StatusError(ValueError):
    """A status change that is not allowed; the message says why."""


def report_received(session, report):
    """Mirror a new report into its area's group (posted after the caller commits)."""
    from gateway.twilio_auth import url_for_provider

    # A resident's voice is private: the group gets the console page, where officials in scope hear it.
    url = url_for_provider(f"/console/reports/{report.id}") if report.recording is not None else None
    return _queue_post(session, report, key=f"report:{report.id}:mirror",
                       text=messages.report_text(report, recording_url=url))


def follow_up(session, report, text):
    """A resident's further text on an open report: into its thread, and as a reply in the group."""
    event = add_event(session, report, "message_in", text=text)
    _queue_post(session, report, key=f"report:{report.id}:event:{event.id}:group",
                text=messages.follow_up_text(report, text), reply=True)
    return event


def change_status(session, report, status, *, note="", official=None):
    """Move `report` to `status`; text the reporter and tell the group. Raises StatusError."""
    if status not in REPORT_STATUSES:
        raise StatusError(f"unknown status '{status}'; use one of: {', '.join(REPORT_STATUSES)}")
    if status not in TRANSITIONS.get(report.status, set()):
        raise StatusError(f"report #{report.number} is '{report.status}'; it cannot become '{status}'")
    report.status = status
    event = add_event(session, report, "status", status=status, text=note, official=official)
    body = SMS_STATUS[status].format(n=report.number) + (f" {note}" if note else "")
    _queue_sms(session, report, key=f"report:{report.id}:event:{event.id}:sms", body=body)
    _queue_post(session, report, key=f"report:{report.id}:event:{event.id}:group",
                text=messages.status_text(report, status, note), reply=True)
    log.info("report status report=%s status=%s official=%s", report.id, status, official.id if official else None)
    return event


def relay_reply(session, report, text, *, key, official=None):
    """Send an official's reply to the reporter by SMS and note it in the thread and the group.

    `key` identifies the reply's source (e.g. the chat message) so a redelivered webhook
    relays it once. Returns the event, or None when it was relayed already."""
    if session.scalar(select(Delivery.id).where(Delivery.idempotency_key == f"report:{report.id}:reply:{key}")):
        return None
    event = add_event(session, report, "message_out", text=text, official=official)
    _queue_sms(session, report, key=f"report:{report.id}:reply:{key}",
               body=SMS_REPLY.format(n=report.number, text=text))
    _queue_post(session, report, key=f"report:{report.id}:event:{event.id}:group",
                text=messages.reply_text(report, text), reply=True)
    return event


def _queue_sms(session, report, *, key, body):
    if not report.phone:
        return None
    return queue_sms(session, phone=report.phone, body=body, key=key, resident_id=report.resident_id,
                     area_id=report.area_id, report_id=report.id, queue="high")


def _queue_post(session, report, *, key, text, reply=False):
    # A report with no area (a stranger's text) goes to its commune's main group.
    return queue_post(session, area=report.area, in_group_of=report.area or session.get(Area, report.commune_id),
                      text=text, key=key, report_id=report.id,
                      reply_to_key=f"report:{report.id}:mirror" if reply else None)


def status_label(status):
    return STATUS_LABELS.get(status, status)
