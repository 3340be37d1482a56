"""The hotline and call webhooks: one call flow (gateway.ivr.flow), answered in each provider's dialect.

Twilio, and Somleng or any Twilio-compatible server (TwiML): `POST /ivr/<step>` for every step,
checked with X-Twilio-Signature; `/ivr/inbound` is the number's voice URL and `/ivr/status` its
status callback. Stringee (SCCO JSON): `GET /ivr/stringee/answer` (the number's answer_url, and
the answer_url of calls we place), `POST /ivr/stringee/<step>` (input and recording results),
`POST /ivr/stringee/event` (the project's event_url), checked with X-STRINGEE-SIGNATURE. A wrong
or missing signature gets 403 before anything is read. Every answer comes from the database
and the prompt cache: nothing is synthesized and no provider is called here.
"""
import logging

from flask import Blueprint, abort, current_app, request

from gateway.announcements.cache import area_cache
from gateway.db import get_db
from gateway.ivr import flow, prompts
from gateway.ivr.dialects.stringee import Stringee
from gateway.ivr.dialects.twiml import TwiML
from gateway.media.assets import asset_url, request_announcement_audio

log = logging.getLogger(__name__)
bp = Blueprint("ivr", __name__, url_prefix="/ivr")

# Steps a provider asks for by URL; Stringee's entry (inbound, outbound) is its answer_url and
# its status is the event_url.
TWIML_STEPS = ("inbound", "play", "menu", "pick", "dialed", "report", "record", "review", "recording", "outbound",
               "confirm", "status", "poll", "language")
STRINGEE_STEPS = ("play", "menu", "pick", "dialed", "report", "record", "review", "confirm", "poll", "language")


def context(db):
    """The flow's view of this web process: prompt audio, announcement audio, the settings."""

    def resolve(keys, commune, texts, language):
        playlist = prompts.resolve(db, keys, commune=commune, texts=texts, language=language)
        return [flow.Play(value, name=key) if kind == "play" else flow.Say(value, name=key)
                for key, (kind, value) in zip(keys, playlist.items)]

    return flow.Context(db=db, config=current_app.config, resolve=resolve,
                        audio_url=lambda asset: asset_url(asset, "phone"),
                        request_audio=lambda ann: request_announcement_audio(db, ann), cache=area_cache())


def answer(dialect, step):
    """Check the signature, run the flow step, render its script in the dialect."""
    if not dialect.signed():
        log.warning("rejected unsigned or badly signed %s webhook path=%s", dialect.name, request.path)
        abort(403)
    event = dialect.parse(step)
    script = flow.run(context(get_db()), event)
    return dialect.render(script, event)


def _twiml_view(step):
    def view():
        return answer(TwiML, step)

    view.__name__ = f"twiml_{step}"
    view.__doc__ = f"Twilio/Somleng webhook of the flow step {step!r}."
    return view


for _step in TWIML_STEPS:
    bp.add_url_rule(f"/{_step}", f"twiml_{_step}", _twiml_view(_step), methods=["POST"])


@bp.get("/stringee/answer")
def stringee_answer():
    """Stringee's answer_url: an inbound call, or (step=outbound) a call we placed was answered."""
    return answer(Stringee, "outbound" if request.args.get("step") == "outbound" else "inbound")


@bp.post("/stringee/event")
def stringee_event():
    """Stringee's event_url: call progress of every call (created … ended)."""
    return answer(Stringee, "status")


@bp.post("/stringee/<step>")
def stringee_step(step):
    """The result of an `input` or `recordMessage` action (or a failed connect): the next SCCO."""
    if step not in STRINGEE_STEPS:
        abort(404)
    return answer(Stringee, step)
