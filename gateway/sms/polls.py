"""Polls by SMS: the poll's text ("Tra loi 1 neu …, 2 neu …", GSM-7) and a resident's SMS read as
an answer to the newest poll asking their household (gateway.polls keeps the answers)."""
from gateway.models import utcnow
from gateway.polls.answers import record
from gateway.polls.polls import any_live, late_poll_for, open_polls_for
from gateway.sms.commands import _core, similar
from gateway.sms.encoding import count_segments, to_gsm
from gateway.sms.replies import render
from gateway.text import fold

# Words people put before their choice: "chọn 2", "trả lời 1", "phương án 3", "ý kiến: có".
_LEADS = ("traloi", "chon", "phuongan", "dapan", "ykien", "so", "y")
OUT_OF_RANGE = 0


def answer_line(options):
    """"Tra loi 1 neu Co can, 2 neu Khong can." (GSM-7)."""
    return "Tra loi " + ", ".join(f"{i} neu {to_gsm(o['label'])}" for i, o in enumerate(options, 1)) + "."


def sms_text(question, options, *, lead=""):
    """The poll's SMS: the announcement's own words first (`lead`), the question, the keys. GSM-7."""
    parts = [to_gsm(lead).strip(), f"Hoi y kien: {to_gsm(question).strip()}", answer_line(options)]
    return " ".join(" ".join(p.split()) for p in parts if p)


def sms_parts(text):
    """The number of SMS parts `text` takes."""
    return count_segments(text)[1]


def match_choice(options, text):
    """The option (1-based) a text picks: its digit, or a word of one option (diacritics and keypad
    slips forgiven); OUT_OF_RANGE for a digit with no option; None when it is no answer."""
    words = fold(text).split()
    if not words:
        return None
    core = _core(words)
    for lead in _LEADS:
        if core.startswith(lead) and len(core) > len(lead):
            rest = core[len(lead):]
            if rest.isdigit() or any(_matches(o, rest) for o in options):
                core = rest
                break
    if core.isdigit():
        if len(core) > 1:
            return None  # a number, not a key
        n = int(core)
        return n if 1 <= n <= len(options) else OUT_OF_RANGE
    found = [i for i, option in enumerate(options, 1) if _matches(option, core)]
    return found[0] if len(found) == 1 else None


def _matches(option, typed):
    names = [option["label"], *option.get("words", [])]
    return any(similar(typed, fold(name).replace(" ", "")) for name in names if fold(name))


def sms_reply(session, resident, text, now=None, *, version=None):
    """The receipt for an SMS answering a poll, or None when the text answers none (then it keeps its
    usual meaning: `1` confirms, other text is a command or a report).

    While polls are open for the household, the newest one is answered; after a deadline, an answer
    to that poll (the last thing the household was asked) gets "het han" and is not counted."""
    if resident is None or resident.opted_out:
        return None
    now = now or utcnow()
    if not any_live(session, now, version=version):
        return None
    polls = open_polls_for(session, resident, now)
    poll = polls[0] if polls else late_poll_for(session, resident, now)
    if poll is None:
        return None
    choice = match_choice(poll.options, text)
    if choice is None:
        return None
    if choice == OUT_OF_RANGE:
        if not polls:
            return None  # a digit after the deadline with no option behind it: its usual meaning
        return render("poll_out_of_range", n=len(poll.options))
    receipt = record(session, poll, resident, choice, channel="sms", text=text, now=now)
    return render(f"poll_{receipt.outcome}", label=receipt.label)
