"""Every inbound SMS, from any provider's webhook: `receive(...)` stores it as received, works
out what it asks and answers it (the reply text, or None when nothing should be sent).

Rules: the text is stored exactly as received (NFC); an invalid sender is stored and never
answered; a number over SMS_RATE_LIMIT gets no replies and its texts go into one report
thread; an opted-out number only ever gets the opt-out confirmation (and can rejoin with DK);
unknown numbers may subscribe (becoming a Resident, consent "sms") and report.
"""
import datetime as dt
import functools
import logging
import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from gateway.announcements.cache import version_column
from gateway.areas import match_area
from gateway.areas.settings import hotline_numbers
from gateway.models import Area, Delivery, InboundMessage, Report, Resident, Subscription, utcnow
from gateway.phone import PhoneError, normalize
from gateway.sms.polls import sms_reply as poll_reply
from gateway.sms import replies
from gateway.sms.commands import category_of, parse
from gateway.text import nfc

log = logging.getLogger(__name__)
CONFIRM_WINDOW = dt.timedelta(days=7)
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hr|hour|d|day)s?\s*$", re.I)
_UNIT = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600,
         "hour": 3600, "d": 86400, "day": 86400}


@dataclass
class Inbound:
    """What became of an inbound SMS."""

    message: InboundMessage
    reply: str | None
    intent: str | None
    report: Report | None = None
    duplicate: bool = False


def parse_rate(value):
    """"10/hour" → (10, timedelta(hours=1)); "5/30min" works too. ValueError when unreadable."""
    match = _RATE.match(str(value or ""))
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"SMS_RATE_LIMIT '{value}' is not like 10/hour, 30/day or 5/10min")
    seconds = int(match.group(2) or 1) * _UNIT[match.group(3).lower()]
    return int(match.group(1)), dt.timedelta(seconds=seconds)


def receive(session, *, provider, sender, body, config, to=None, provider_message_id=None,
            reply_by_sms=False, now=None):
    """Store, interpret and answer one inbound SMS in one transaction; commits. `reply_by_sms`:
    queue the reply as an outbound SMS (providers whose webhook cannot answer inline)."""
    now = now or utcnow()
    message = InboundMessage(provider=provider, provider_message_id=provider_message_id, body=nfc(body),
                             to_number=(to or "")[:20] or None, received_at=now)
    try:
        phone = normalize(sender)
    except PhoneError as exc:
        message.phone, message.intent = (str(sender or "") or "?")[:20], "invalid_sender"
        stored = _store(session, message)
        if stored is not message:
            return stored
        log.warning("inbound sms from an invalid sender provider=%s message=%s reason=%s", provider, message.id,
                    exc.code)
        return Inbound(message, None, "invalid_sender")
    message.phone = phone
    limit, window = parse_rate(config.get("SMS_RATE_LIMIT") or "10/hour")
    # One statement for what every message needs: a redelivery?, the sender's recent count, the
    # policy version the per-area caches are checked against.
    seen_id, recent, version = session.execute(_first_query(), {
        "provider": provider, "provider_message_id": provider_message_id, "phone": phone,
        "since": now - window}).one()
    if seen_id is not None:
        return _redelivered(session, seen_id)
    handler = _Handler(session, message, config, now, version)
    result = handler.flood() if recent >= limit else handler.handle()
    message.reply = result.reply
    if result.reply and reply_by_sms:
        from gateway.sms_queue import queue_sms

        stored = _store(session, message, commit=False)  # the reply's key holds the message's id
        if stored is not message:
            return stored
        queue_sms(session, phone=phone, body=result.reply, key=f"sms:in:{message.id}:reply",
                  resident_id=handler.resident.id if handler.resident else None,
                  report_id=result.report.id if result.report else None)  # the receipt is in the report's thread
    stored = _store(session, message)
    if stored is not message:
        return stored
    log.info("inbound sms provider=%s message=%s intent=%s report=%s replied=%s", provider, message.id,
             result.intent, result.report.id if result.report else None, bool(result.reply))
    return result


@functools.cache
def _first_query():
    # Built once: statements are immutable, and building this one costs more than running it.
    return select(
        _seen().scalar_subquery(),
        select(func.count()).select_from(InboundMessage).where(
            InboundMessage.phone == bindparam("phone"),
            InboundMessage.received_at >= bindparam("since", type_=InboundMessage.received_at.type)).scalar_subquery(),
        version_column())


def _seen():
    """The id of the message a provider already delivered (none without a provider message id)."""
    return select(InboundMessage.id).where(InboundMessage.provider == bindparam("provider"),
                                           InboundMessage.provider_message_id == bindparam("provider_message_id"))


def _redelivered(session, seen_id):
    # A provider redelivers when our first answer did not reach it: answer the same again.
    seen = session.get(InboundMessage, seen_id)
    log.info("inbound sms duplicate provider=%s message=%s", seen.provider, seen.id)
    return Inbound(seen, seen.reply, seen.intent, duplicate=True)


def _store(session, message, *, commit=True):
    """Write `message` (one INSERT with its outcome) and commit; on the same provider message id
    stored meanwhile by another request, roll back all of this one and answer as a redelivery."""
    session.add(message)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        if not message.provider_message_id:
            raise
        seen_id = session.scalar(_seen(), {"provider": message.provider,
                                           "provider_message_id": message.provider_message_id})
        if seen_id is None:
            raise
        return _redelivered(session, seen_id)
    if commit:
        session.commit()
    return message


@functools.cache
def _resident_query():
    return select(Resident).options(joinedload(Resident.area)).where(Resident.phone == bindparam("phone"))


class _Handler:
    """Works out one message; each intent's method returns an Inbound."""

    def __init__(self, session, message, config, now, version=None):
        self.session, self.message, self.config, self.now = session, message, config, now
        self.version = version  # of the per-area caches (gateway.announcements.cache)
        self.resident = session.scalar(_resident_query(), {"phone": message.phone})

    def done(self, intent, reply, report=None):
        self.message.intent = intent
        if report is not None:
            self.message.report_id = report.id
        return Inbound(self.message, reply, intent, report)

    # -- helpers ---------------------------------------------------------------------------

    def home(self):
        """The resident's own area, else the first one they follow; None for a stranger."""
        if self.resident is None:
            return None
        if self.resident.area is not None:
            return self.resident.area
        return self.resident.subscriptions[0].area if self.resident.subscriptions else None

    def default_commune(self):
        """The commune an unknown sender's report goes to: the one whose hotline they texted,
        else the only (or first) commune."""
        communes = list(self.session.scalars(select(Area).where(Area.level == "commune").order_by(Area.id)))
        for commune in communes:
            if self.message.to_number and self.message.to_number in hotline_numbers(commune):
                return commune
        return communes[0] if communes else None

    def hotline(self, area=None):
        area = area or self.home() or self.default_commune()
        number = area.inherited("hotline_number") if area is not None else None
        return replies.hotline_text(number or self.config.get("HOTLINE_NUMBER")) or "tong dai xa"

    def within(self):
        home = self.home()
        return home.commune() if home is not None else None

    def open_thread(self, minutes):
        """The number's report still open and written to in the last `minutes`, or None."""
        since = self.now - dt.timedelta(minutes=minutes)
        return self.session.scalar(
            select(Report).where(Report.phone == self.message.phone, Report.last_message_at >= since,
                                 Report.status.not_in(("resolved", "rejected")))
            .order_by(Report.last_message_at.desc(), Report.id.desc()).limit(1))

    # -- dispatch --------------------------------------------------------------------------

    def handle(self):
        text = self.message.body
        max_length = int(self.config.get("SMS_MAX_LENGTH") or 1600)
        if len(text) > max_length:
            return self.done("too_long", replies.render("too_long", limit=max_length))
        answered = poll_reply(self.session, self.resident, text, now=self.now, version=self.version)
        if answered is not None:  # a digit or an option's word while a poll asks this household
            return self.done("poll", answered)
        command = parse(text)
        if self.resident is not None and self.resident.opted_out and command.intent != "subscribe":
            report = self.file_report(command.args["text"]).report if command.intent == "report" \
                and command.args["text"] else None
            return self.done(command.intent, replies.render("opted_out"), report)
        return getattr(self, command.intent)(command.args)

    def flood(self):
        """Over the rate limit: no reply; the text joins the number's report thread (one report)."""
        window = parse_rate(self.config.get("SMS_RATE_LIMIT") or "10/hour")[1]
        minutes = max(window.total_seconds() / 60, float(self.config.get("SMS_REPORT_THREAD_MINUTES") or 30))
        report = self.open_thread(minutes)
        if report is None:
            report = self.open(self.message.body)
        else:
            from gateway.reports.records import add_event

            add_event(self.session, report, "message_in", text=self.message.body)
        log.warning("inbound sms over the rate limit report=%s", report and report.id)
        return self.done("rate_limited", None, report)

    # -- intents ---------------------------------------------------------------------------

    def help(self, args):
        return self.done("help", replies.render("help", hotline=self.hotline()))

    def subscribe(self, args):
        wanted = args["area"]
        if not wanted:
            area = self.home()
            if area is None:
                return self.done("subscribe", replies.render("subscribe_how"))
        else:
            match = match_area(self.session, wanted, within=self.within())
            if match.area is None and not match.candidates and len(wanted.split()) >= 3:
                return self.report({"text": self.message.body.strip()})  # "Dang ky ket hon o dau?"
            if match.area is None:
                return self.done("subscribe", self.area_problem(wanted, match))
            area = match.area
        old_name = match.alias if wanted else None
        rejoined = self.resident is not None and self.resident.opted_out
        if self.resident is None:
            self.resident = Resident(phone=self.message.phone, area_id=area.id, consent_source="sms")
            self.session.add(self.resident)
            self.session.flush()
        else:
            self.resident.opted_out_at = None
            if self.resident.area_id is None:
                self.resident.area_id = area.id
            elif area not in list(self.resident.area.ancestors()) and not self.session.scalar(
                    select(Subscription.id).where(Subscription.resident_id == self.resident.id,
                                                  Subscription.area_id == area.id)):
                self.session.add(Subscription(resident_id=self.resident.id, area_id=area.id, source="sms"))
        self.session.flush()
        if old_name:  # "DK Khu pho 6" after KP6 merged into KP5: say where they now belong
            return self.done("subscribe", replies.render("subscribed_alias", old=old_name, area=label(area)))
        return self.done("subscribe", replies.render("rejoined" if rejoined else "subscribed", area=label(area)))

    def area_problem(self, wanted, match):
        if match.ambiguous:
            return replies.render("ambiguous_area", text=wanted, n=len(match.candidates),
                                  candidates=replies.area_list(match.candidates, budget=80),
                                  first=short_code(match.candidates[0]))
        if match.candidates:
            return replies.render("unknown_area", text=wanted, suggestions=replies.area_list(match.candidates, budget=70))
        example = self.session.scalar(select(Area).where(Area.level == "neighbourhood", Area.retired_at.is_(None))
                                      .order_by(Area.id).limit(1))
        return replies.render("unknown_area_none", text=wanted, example=example.code if example else "KP1",
                              hotline=self.hotline())

    def news(self, args):
        from gateway.sms.digest import area_digest

        area = None
        if args["area"]:
            match = match_area(self.session, args["area"], within=self.within())
            if match.area is None and not match.candidates:
                return self.report({"text": self.message.body.strip()})  # "Tin bao ..." after all
            if match.area is None:
                return self.done("news", self.area_problem(args["area"], match))
            area = match.area
        area = area or self.home()
        if area is None:
            return self.done("news", replies.render("news_no_area"))
        segments = int(self.config.get("SMS_DIGEST_SEGMENTS") or 1)
        return self.done("news", area_digest(self.session, area, version=self.version, segments=segments,
                                             default_hotline=self.config.get("HOTLINE_NUMBER"), now=self.now))

    def report(self, args):
        text = args["text"]
        if not text:
            return self.done("report", replies.render("report_how"))
        filed = self.file_report(text)
        if filed.followed_up:
            return self.done("report", replies.render("report_follow_up", number=filed.report.number), filed.report)
        if filed.report is None:
            return self.done("report", None)
        area = filed.report.area or self.session.get(Area, filed.report.commune_id)
        if area.level == "team" and area.parent is not None:
            area = area.parent  # the neighbourhood's officials work it
        return self.done("report", replies.render("report_received", number=filed.report.number, area=area.name),
                         filed.report)

    def file_report(self, text):
        """A new report, or a follow-up on the number's open one within the thread window."""
        from gateway.reports.casework import follow_up

        minutes = float(self.config.get("SMS_REPORT_THREAD_MINUTES") or 30)
        thread = self.open_thread(minutes)
        if thread is not None:
            follow_up(self.session, thread, text)
            return _Filed(thread, True)
        return _Filed(self.open(text), False)

    def open(self, text):
        from gateway.reports.casework import report_received
        from gateway.reports.records import open_report

        area = self.resident.area if self.resident is not None else None
        commune = area.commune() if area is not None else self.default_commune()
        if commune is None:
            log.error("inbound sms report with no commune configured provider=%s", self.message.provider)
            return None
        report = open_report(self.session, commune=commune, channel="sms", text=text, area=area,
                             resident=self.resident, phone=self.message.phone, category=category_of(text))
        report_received(self.session, report)
        return report

    def unsubscribe(self, args):
        if self.resident is None:
            # Remembered, so a household list imported later does not text them again.
            self.resident = Resident(phone=self.message.phone, consent_source="sms", opted_out_at=self.now)
            self.session.add(self.resident)
        elif self.resident.opted_out_at is None:
            self.resident.opted_out_at = self.now
        return self.done("unsubscribe", replies.render("opted_out"))

    def confirm(self, args):
        delivery = self.session.scalar(
            select(Delivery).where(Delivery.phone == self.message.phone, Delivery.announcement_id.is_not(None),
                                   Delivery.created_at >= self.now - CONFIRM_WINDOW)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(1))
        if delivery is None:
            return self.done("confirm", replies.render("nothing_to_confirm"))
        delivery.confirmed_at = delivery.confirmed_at or self.now
        delivery.status = "confirmed"
        return self.done("confirm", replies.render("confirmed"))


@dataclass
class _Filed:
    report: Report | None
    followed_up: bool


def label(area):
    """An area's name for an SMS: a team with its neighbourhood ("Khu pho 5 To 2")."""
    if area.level == "team" and area.parent is not None:
        return f"{area.parent.name} {area.name}"
    return area.name


def short_code(area):
    """What to text after DK for this area."""
    if area.level == "team" and area.parent is not None:
        return f"{area.parent.code} {area.name}"
    return area.code
