"""Voice dialects: how one provider family asks for the next step and hears the answer.

Each module parses the provider's request into a `flow.Event`, renders a flow script (TwiML for
Twilio and Somleng, SCCO JSON for Stringee), checks the provider's signature, maps its call
statuses onto the delivery statuses (`calls.RANK`), and says how to fetch its recordings.
"""
from gateway.registry import Registry

DIALECTS = Registry("voice dialect", {
    "twiml": "gateway.ivr.dialects.twiml.TwiML",
    "stringee": "gateway.ivr.dialects.stringee.Stringee",
})
