"""What calls say for a poll: its prompt keys and their texts (the IVR flow plays them like any
prompt: rendered audio once ready, the provider's speech until then)."""
from gateway.polls.polls import keys_text

INTRO = "poll_intro"
LATE = "poll_late"
FIXED = {
    INTRO: "Xin bà con cho ý kiến.",
    LATE: "Cuộc hỏi ý kiến này đã hết hạn, ý kiến của bà con không được tính. Cảm ơn bà con.",
}


def question_key(poll):
    return f"poll_{poll.id}_question"


def keys_key(poll):
    return f"poll_{poll.id}_keys"


def receipt_key(poll, choice):
    return f"poll_{poll.id}_choice_{choice}"


def prompt_texts(poll):
    """Every prompt key of this poll → its text."""
    texts = {**FIXED, question_key(poll): poll.question, keys_key(poll): keys_text(poll.options)}
    for i, option in enumerate(poll.options, 1):
        texts[receipt_key(poll, i)] = f"Đã ghi nhận ý kiến của bà con: {option['label']}. Cảm ơn bà con."
    return texts
