"""A small call interpreter: what a phone on a Twilio, Somleng or Stringee call would hear and do, step by step.

Both dialects of the call flow are read into the same steps (TwiML as it is; Stringee's SCCO
JSON turned into the same verbs: talk → Say, stream → Play, barge-in prompts and input → Gather,
recordMessage → Record, connect → Dial) and run alike; the requests back are the dialect's own
(Twilio's form fields, Stringee's JSON bodies).

The phone simulator keeps one `Call` per simulated call. Each step runs the current TwiML
document until it needs the caller (a <Gather> waits for keys, a <Record> for a recording) or
the call ends; whenever TwiML points elsewhere (<Redirect>, an action URL) the call fetches the
next document through `fetch(url, method, params) -> str` — in the console, a signed webhook
request dispatched in-process. Nothing here knows Flask, so it is tested over TwiML samples.

Twilio's behaviour followed (see ../shared/reference/twiml_facts.md): <Gather> and <Record>
post to their `action`, or to the current document's URL when there is none; a <Gather> with
no input falls through to the next verb unless `actionOnEmptyResult="true"`; an empty
recording requests no action; the call hangs up when a document runs out of verbs.
"""
import json
import uuid
from dataclasses import asdict, dataclass, field
from urllib.parse import urljoin
from xml.etree import ElementTree

# Redirects, actions and fall-throughs one step may follow before we call it a loop.
MAX_FETCHES_PER_STEP = 20
SPOKEN = ("Say", "Play", "Pause")


class TwiMLError(ValueError):
    """The gateway answered something a phone call could not follow; the message says what."""


@dataclass
class Verb:
    name: str
    attrs: dict = field(default_factory=dict)
    text: str = ""
    children: list = field(default_factory=list)

    @classmethod
    def from_dict(cls, data):
        return cls(data["name"], data["attrs"], data["text"], [cls.from_dict(c) for c in data["children"]])


def parse(document):
    """The verbs of a TwiML <Response>, in order; TwiMLError when it is not one."""
    text = document.decode("utf-8") if isinstance(document, bytes) else (document or "")
    if not text.strip():
        raise TwiMLError("empty answer instead of TwiML")
    try:
        root = ElementTree.fromstring(text.strip().encode("utf-8"))
    except ElementTree.ParseError as exc:
        raise TwiMLError(f"not XML: {exc}") from None
    if root.tag != "Response":
        raise TwiMLError(f"TwiML must be a <Response>, not <{root.tag}>")
    return [_verb(el) for el in root]


def parse_scco(document):
    """The actions of an SCCO (a JSON array) as the same verbs as TwiML; TwiMLError when it is not one."""
    try:
        actions = json.loads(document or "")
    except ValueError as exc:
        raise TwiMLError(f"not JSON: {exc}") from None
    if not isinstance(actions, list) or not all(isinstance(a, dict) and "action" in a for a in actions):
        raise TwiMLError("an SCCO must be a JSON array of actions")
    verbs, barge_in = [], []
    for action in actions:
        kind = action["action"]
        if kind in ("talk", "stream", "play"):
            verb = (Verb("Say", {"language": "vi-VN"}, str(action.get("text", ""))) if kind == "talk"
                    else Verb("Play", {}, str(action.get("streamUrl") or action.get("fileName") or "")))
            (barge_in if action.get("bargeIn") else verbs).append(verb)
        elif kind == "input":
            attrs = {"action": action.get("eventUrl", ""), "numDigits": str(action.get("maxDigits", "")),
                     "finishOnKey": "#" if action.get("submitOnHash") else "",
                     "timeout": str(action.get("timeout", 5)), "actionOnEmptyResult": "true"}  # a timeout posts
            verbs.append(Verb("Gather", attrs, children=barge_in))
            barge_in = []
        elif kind == "recordMessage":
            verbs.append(Verb("Record", {"action": action.get("eventUrl", ""), "finishOnKey": "#",
                                         "maxLength": str(action.get("timeout", 3600))}))
        elif kind == "connect":
            to = action.get("to") or {}
            verbs.append(Verb("Dial", {"action": action.get("onFailEventUrl", "")}, "+" + str(to.get("number", ""))))
        else:
            verbs.append(Verb(kind))
    return verbs + barge_in


def _verb(element):
    return Verb(element.tag, dict(element.attrib), (element.text or "").strip(), [_verb(c) for c in element])


def new_sid(prefix):
    """A Twilio-shaped id: two letters and 32 hex digits."""
    return prefix + uuid.uuid4().hex


def _flag(value, default=False):
    if value is None:
        return default
    return str(value).strip().lower() == "true"


def _loop(verb):
    try:
        return max(int(verb.attrs.get("loop", 1)), 0)
    except ValueError:
        return 1


@dataclass
class Call:
    """One simulated call: who calls whom, the document being run, and what it waits for."""

    sid: str
    caller: str
    called: str
    entry_url: str
    status_url: str = ""
    account_sid: str = ""
    direction: str = "inbound"
    dialect: str = "twiml"  # or "stringee"
    url: str = ""
    pending: list = field(default_factory=list)
    waiting: dict | None = None
    ended: bool = False
    fetches: int = 0

    # Serialization (the console keeps calls in Redis between steps) -----------------------

    def to_dict(self):
        data = asdict(self)
        data["pending"] = [asdict(v) for v in self.pending]
        return data

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data["pending"] = [Verb.from_dict(v) for v in data.get("pending", [])]
        return cls(**data)

    # What the caller does ------------------------------------------------------------------

    def params(self, status="in-progress", **extra):
        """The fields the provider sends with a request of this call, plus `extra` (Twilio's form fields,
        or Stringee's JSON body of an action's result)."""
        if self.dialect == "stringee":
            return {"call_id": self.sid, **extra}
        params = {
            "AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "CallSid": self.sid,
            "CallStatus": status, "Direction": self.direction, "From": self.caller, "To": self.called,
            "Caller": self.caller, "Called": self.called,
            "FromCity": "", "FromState": "", "FromZip": "", "FromCountry": "VN",
            "ToCity": "", "ToState": "", "ToZip": "", "ToCountry": "VN",
        }
        params.update({k: str(v) for k, v in extra.items()})
        return params

    def start(self, fetch):
        """The first webhook (an inbound call is `ringing`; a call the gateway placed was just
        answered: `in-progress`; Stringee GETs its answer_url), then run until the caller is needed."""
        events = []
        self.fetches = 0
        if self.dialect == "stringee":
            caller, called = (self.caller, self.called) if self.direction == "inbound" else (self.called, self.caller)
            fields = {"from": caller.lstrip("+"), "to": called.lstrip("+"), "uuid": self.sid, "fromInternal": "false"}
            self._load(fetch, self.entry_url, "GET", fields, events)
        else:
            status = "ringing" if self.direction == "inbound" else "in-progress"
            self._load(fetch, self.entry_url, "POST", self.params(status), events)
        return self._run(fetch, events)

    def press(self, fetch, digits, finished_on_key=""):
        """The caller's keys for the waiting <Gather> (empty: it timed out)."""
        waiting = self._expect("Gather")
        events = []
        self.fetches = 0
        self.waiting = None
        if digits or _flag(waiting.get("actionOnEmptyResult")):
            action = waiting.get("action") or self.url
            fields = ({"dtmf": digits, "timeout": not digits, "customField": ""} if self.dialect == "stringee"
                      else {"Digits": digits, "FinishedOnKey": finished_on_key})
            self._load(fetch, urljoin(self.url, action), waiting.get("method", "POST"), self.params(**fields), events)
        return self._run(fetch, events)

    def recorded(self, fetch, *, url, sid, duration, digits="#"):
        """The caller's recording for the waiting <Record>: its action, then its status callback."""
        waiting = self._expect("Record")
        events = []
        self.fetches = 0
        self.waiting = None
        if self.dialect == "stringee":
            # [R] the recordMessage result's field for the recording (gateway.ivr.dialects.stringee).
            fields = {"recording_url": url if int(duration) > 0 else ""}
            self._load(fetch, urljoin(self.url, waiting.get("action") or self.url), "POST", self.params(**fields),
                       events)
            return self._run(fetch, events)
        if int(duration) <= 0:
            return self._run(fetch, events)  # an empty recording requests no action
        recording = {"RecordingUrl": url, "RecordingSid": sid, "RecordingDuration": int(duration)}
        action = waiting.get("action") or self.url
        self._load(fetch, urljoin(self.url, action), waiting.get("method", "POST"),
                   self.params(Digits=digits, **recording), events)
        callback = waiting.get("recordingStatusCallback")
        if callback:
            fetch(urljoin(self.url, callback), waiting.get("recordingStatusCallbackMethod", "POST"),
                  self.params(RecordingStatus="completed", RecordingChannels=1, RecordingSource="RecordVerb",
                              **recording))
        return self._run(fetch, events)

    def hangup(self, fetch, duration=0, status="completed"):
        """The phone hangs up (`completed`) or never answers (`busy`, `no-answer`): the status callback hears it."""
        self.ended = True
        self.waiting = None
        self.pending = []
        if self.status_url and self.dialect == "stringee":
            # A call event: ended, answered for `duration` seconds unless it was never answered.
            answered = max(int(duration), 1) if status == "completed" else 0
            cause = {"busy": "USER_BUSY", "no-answer": "NO_ANSWER"}.get(status, "NORMAL_CLEARING")
            ends = {"from": {"type": "external", "number": self.caller.lstrip("+")},
                    "to": {"type": "external", "number": self.called.lstrip("+")}}
            fetch(self.status_url, "POST", self.params(call_status="ended", duration=int(duration),
                                                       answerDuration=answered, endCallCause=cause, **ends))
        elif self.status_url:
            fetch(self.status_url, "POST", self.params(status, CallDuration=int(duration)))
        return [{"type": "end", "by": "caller"}]

    # Running TwiML -----------------------------------------------------------------------

    def _expect(self, verb):
        if self.ended:
            raise TwiMLError("the call has ended")
        if not self.waiting or self.waiting.get("verb") != verb:
            raise TwiMLError(f"the call is not waiting for <{verb}>")
        return self.waiting

    def _load(self, fetch, url, method, params, events):
        self.fetches += 1
        if self.fetches > MAX_FETCHES_PER_STEP:
            raise TwiMLError(f"more than {MAX_FETCHES_PER_STEP} documents without waiting for the caller: a loop?")
        self.url = url
        answer = fetch(url, method.upper(), params)
        self.pending = parse_scco(answer) if self.dialect == "stringee" else parse(answer)
        events.append({"type": "fetch", "url": url, "method": method.upper()})

    def _spoken(self, verb, events):
        if verb.name == "Say":
            events.append({"type": "say", "text": verb.text, "loop": _loop(verb),
                           "language": verb.attrs.get("language", "")})
        elif verb.name == "Play":
            if verb.attrs.get("digits"):
                events.append({"type": "tones", "digits": verb.attrs["digits"]})
            if verb.text:
                events.append({"type": "play", "url": urljoin(self.url, verb.text), "loop": _loop(verb)})
        elif verb.name == "Pause":
            events.append({"type": "pause", "seconds": int(verb.attrs.get("length", 1))})

    def _run(self, fetch, events):
        while self.pending and not self.ended:
            verb = self.pending.pop(0)
            if verb.name in SPOKEN:
                self._spoken(verb, events)
            elif verb.name == "Gather":
                for child in verb.children:
                    self._spoken(child, events)
                self.waiting = {"verb": "Gather", **verb.attrs}
                events.append({"type": "gather", "numDigits": verb.attrs.get("numDigits"),
                               "finishOnKey": verb.attrs.get("finishOnKey", "#"),
                               "timeout": int(verb.attrs.get("timeout", 5))})
                return events
            elif verb.name == "Record":
                self.waiting = {"verb": "Record", **verb.attrs}
                events.append({"type": "record", "maxLength": int(verb.attrs.get("maxLength", 3600)),
                               "beep": _flag(verb.attrs.get("playBeep"), True),
                               "finishOnKey": verb.attrs.get("finishOnKey", "1234567890*#")})
                return events
            elif verb.name == "Redirect":
                if not verb.text:
                    raise TwiMLError("<Redirect> without a URL")
                self._load(fetch, urljoin(self.url, verb.text), verb.attrs.get("method", "POST"), self.params(), events)
            elif verb.name == "Dial":
                number = verb.text or " ".join(c.text for c in verb.children if c.text)
                events.append({"type": "dial", "number": number})
                if verb.attrs.get("action"):
                    # The simulator connects nobody: the dialled party does not answer.
                    fields = ({} if self.dialect == "stringee"
                              else {"DialCallStatus": "no-answer", "DialCallDuration": 0})
                    self._load(fetch, urljoin(self.url, verb.attrs["action"]), verb.attrs.get("method", "POST"),
                               self.params(**fields), events)
            elif verb.name in ("Hangup", "Reject"):
                self.ended = True
                events.append({"type": verb.name.lower()})
            else:
                events.append({"type": "unsupported", "verb": verb.name})
        if not self.ended and not self.waiting:
            self.ended = True  # Twilio hangs up when the document has nothing more to do
            events.append({"type": "end", "by": "gateway"})
        return events


def messages(document):
    """The bodies of the <Message> replies in an SMS webhook's TwiML answer."""
    if not (document or "").strip():
        return []
    replies = []
    for verb in parse(document):
        if verb.name == "Message":
            body = next((c.text for c in verb.children if c.name == "Body"), None)
            replies.append(body if body is not None else verb.text)
    return replies
