"""TwiML: Twilio, and Somleng or any Twilio-compatible server (the same form posts, signature and TwiML).

Every step is a POST to /ivr/<step>?<state> signed with X-Twilio-Signature; the answer is TwiML
built with the twilio library. A Gather or a Record is followed by a Redirect to the same next
step: Twilio falls through to it on silence or an empty recording, so the flow hears "nothing".
"""
from urllib.parse import urlencode

from flask import Response, current_app, request
from twilio.twiml.voice_response import VoiceResponse

from gateway.ivr import flow
from gateway.twilio_auth import signature_valid, public_url, request_params

# Twilio's CallStatus → our delivery status (models.DELIVERY_STATUSES; calls.RANK orders them).
CALL_STATUSES = {
    "queued": "sending",
    "initiated": "sending",
    "ringing": "sending",
    "in-progress": "answered",
    "completed": "answered",  # only an answered call completes; never moves a confirmation back
    "busy": "busy",
    "no-answer": "no_answer",
    "failed": "failed",
    "canceled": "cancelled",
}
MISSED = ("canceled", "no-answer", "busy")


def answered_by(value):
    """Twilio's AnsweredBy (answering-machine detection) → "", human, machine or fax."""
    if value.startswith("machine"):
        return "machine"
    return value if value in ("human", "fax") else ""


class TwiML:
    name = "twiml"
    statuses = CALL_STATUSES

    @staticmethod
    def path(next_step):
        """The webhook path (with the state as its query) of a flow step."""
        params = dict(next_step.params)
        return f"/ivr/{next_step.step}" + ("?" + urlencode(params) if params else "")

    @staticmethod
    def signed():
        """True when the request carries a valid X-Twilio-Signature."""
        from twilio.request_validator import get_signature_algorithm

        algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
        return signature_valid(public_url(), request_params(), request.headers.get("X-Twilio-Signature", ""),
                               current_app.config.get("TWILIO_AUTH_TOKEN"), algorithm)

    @staticmethod
    def parse(step):
        """The flow event of this Twilio request."""
        form = request.form
        outbound = form.get("Direction", "").startswith("outbound")
        digits = form.get("Digits", "")
        status = form.get("CallStatus", "")
        recording = form.get("RecordingUrl", "")
        if step == "recording" and form.get("RecordingStatus") != "completed":
            recording = ""
        return flow.Event(
            step=step, state=request.args.to_dict(),
            caller=form.get("To" if outbound else "From", ""), called=form.get("From" if outbound else "To", ""),
            call_id=form.get("CallSid", ""), outbound=outbound,
            digits="" if digits == "hangup" else digits, hung_up=digits == "hangup",
            recording_url=recording, recording_id=form.get("RecordingSid", ""),
            recording_seconds=form.get("RecordingDuration", ""),
            answered_by=answered_by(form.get("AnsweredBy", "")),
            status=CALL_STATUSES.get(status), raw_status=status,
            missed=form.get("Direction") == "inbound" and status in MISSED,
            dial_answered=form.get("DialCallStatus") == "completed",
        )

    @classmethod
    def render(cls, script, event=None):
        """The TwiML document of a flow script."""
        from gateway.twilio_auth import url_for_provider

        def url(next_step):
            return url_for_provider(cls.path(next_step))

        resp = VoiceResponse()
        voice = current_app.config.get("IVR_SAY_VOICE") or None
        for step in script:
            if isinstance(step, flow.Play):
                resp.play(step.url)
            elif isinstance(step, flow.Say):
                resp.say(step.text, language="vi-VN", voice=voice)
            elif isinstance(step, flow.Gather):
                extra = {"finish_on_key": step.finish_on_key} if step.finish_on_key else {}
                gather = resp.gather(num_digits=step.digits, action=url(step.next), method="POST",
                                     timeout=step.timeout, **extra)
                for prompt in step.prompts:
                    if isinstance(prompt, flow.Play):
                        gather.play(prompt.url)
                    else:
                        gather.say(prompt.text, language="vi-VN", voice=voice)
                resp.redirect(url(step.next), method="POST")  # nothing pressed: Twilio falls through
            elif isinstance(step, flow.Record):
                callback = {"recording_status_callback": url(step.callback), "recording_status_callback_method": "POST",
                            "recording_status_callback_event": "completed"} if step.callback else {}
                resp.record(max_length=step.max_seconds, finish_on_key="#", play_beep=True, timeout=step.silence,
                            action=url(step.next), method="POST", **callback)
                resp.redirect(url(step.next), method="POST")  # an empty recording requests no action
            elif isinstance(step, flow.Dial):
                resp.dial(step.number, action=url(step.next), method="POST", timeout=step.timeout)
            elif isinstance(step, flow.Hangup):
                resp.hangup()
            elif isinstance(step, flow.Reject):
                resp.reject(reason=step.reason)
        return Response(str(resp), mimetype="text/xml")

    @staticmethod
    def recording_request(url, config):
        """(URL, requests kwargs) fetching a recording: Twilio's need the account's Basic auth and `.mp3`."""
        from urllib.parse import urlsplit

        host = urlsplit(url).hostname or ""
        if host == "twilio.com" or host.endswith(".twilio.com") or url.startswith(_api_base(config) + "/"):
            if "." not in urlsplit(url).path.rsplit("/", 1)[-1]:
                url += ".mp3"  # Twilio (and Somleng) serve a RecordingUrl as WAV or MP3 by extension
            return url, {"auth": (config.get("TWILIO_ACCOUNT_SID") or "", config.get("TWILIO_AUTH_TOKEN") or "")}
        return url, {}


def _api_base(config):
    """The REST API's base URL (a Somleng's own), or a string no URL starts with."""
    return (config.get("TWILIO_API_BASE_URL") or "").rstrip("/") or "\0"
