"""What residents text → the command: a table of what people really type on keypads."""
import pytest
from hypothesis import given, settings, strategies as st

from gateway.sms.commands import Command, category_of, parse, similar

CASES = [
    # subscribe
    ("DK KP5", "subscribe", {"area": "KP5"}),
    ("dk kp5", "subscribe", {"area": "kp5"}),
    ("Dk  Kp5 ", "subscribe", {"area": "Kp5"}),
    ("DK", "subscribe", {"area": ""}),
    ("DANG KY", "subscribe", {"area": ""}),
    ("dangky", "subscribe", {"area": ""}),
    ("dang ky khu pho 5", "subscribe", {"area": "khu pho 5"}),
    ("Đăng ký khu phố 5", "subscribe", {"area": "khu phố 5"}),
    ("ĐK thôn Tân Lợi", "subscribe", {"area": "thôn Tân Lợi"}),
    ("đk: thôn Tân Lợi.", "subscribe", {"area": "thôn Tân Lợi."}),
    ("DK-KP5", "subscribe", {"area": "KP5"}),
    ("DKKP5", "subscribe", {"area": "kp5"}),
    ("dang ki kp 5", "subscribe", {"area": "kp 5"}),
    ("dnag ky kp5", "subscribe", {"area": "kp5"}),      # two letters swapped
    ("dan ky kp5", "subscribe", {"area": "kp5"}),       # one letter missing
    ("dangkyy kp5", "subscribe", {"area": "kp5"}),      # one letter twice
    ("ek kp5", "subscribe", {"area": "kp5"}),           # multi-tap: e is on d's key
    ("DKY KP 5", "subscribe", {"area": "KP 5"}),
    ("ĐĂNG KÝ Tổ 2 khu phố 5", "subscribe", {"area": "Tổ 2 khu phố 5"}),
    ("D\u0301K KP5", "subscribe", {"area": "KP5"}),     # a stray combining mark
    ("START", "subscribe", {"area": ""}),
    # news
    ("TIN", "news", {"area": ""}),
    ("tin", "news", {"area": ""}),
    ("Tin.", "news", {"area": ""}),
    ("TIN MOI", "news", {"area": ""}),
    ("tin mới", "news", {"area": ""}),
    ("TIN KP5", "news", {"area": "KP5"}),
    ("tin thon Tan Loi", "news", {"area": "thon Tan Loi"}),
    ("Tim", "news", {"area": ""}),                      # multi-tap: m is on n's key
    ("tin mới nhất", "news", {"area": ""}),
    ("TIN MOI NHAT", "news", {"area": ""}),
    ("Tin mới nhất KP5", "news", {"area": "KP5"}),
    ("xem tin moi nhat", "news", {"area": ""}),
    ("Tin mới nhất về lịch tiêm chưa có à", "report",
     {"text": "Tin mới nhất về lịch tiêm chưa có à", "keyword": False}),
    # report
    ("PA cong thoat nuoc bi tac", "report", {"text": "cong thoat nuoc bi tac", "keyword": True}),
    ("pa: đèn đường hỏng", "report", {"text": "đèn đường hỏng", "keyword": True}),
    ("phản ánh: rác không ai thu", "report", {"text": "rác không ai thu", "keyword": True}),
    ("PHAN ANH co nguoi la", "report", {"text": "co nguoi la", "keyword": True}),
    ("PA", "report", {"text": "", "keyword": True}),
    ("Có trộm vào nhà ông Tư", "report", {"text": "Có trộm vào nhà ông Tư", "keyword": False}),
    ("Tin bao co trom o hem 3", "report", {"text": "Tin bao co trom o hem 3", "keyword": False}),
    ("Huy dong thanh nien don ve sinh", "report", {"text": "Huy dong thanh nien don ve sinh", "keyword": False}),
    ("Stop xe tai cho vat lieu ban dem", "report", {"text": "Stop xe tai cho vat lieu ban dem", "keyword": False}),
    ("OK nhung nuoc van chua co", "report", {"text": "OK nhung nuoc van chua co", "keyword": False}),
    ("1 con cho di lac", "report", {"text": "1 con cho di lac", "keyword": False}),
    ("Dang ky ket hon can giay to gi vay a", "report",
     {"text": "Dang ky ket hon can giay to gi vay a", "keyword": False}),
    ("Help me please my father is lost", "report", {"text": "Help me please my father is lost", "keyword": False}),
    ("Tin ban oi co chay", "report", {"text": "Tin ban oi co chay", "keyword": False}),
    # unsubscribe
    ("HUY", "unsubscribe", {"word": "huy", "area": ""}),
    ("HỦY", "unsubscribe", {"word": "huy", "area": ""}),
    ("huỷ", "unsubscribe", {"word": "huy", "area": ""}),
    ("Hủy đăng ký", "unsubscribe", {"word": "huydangky", "area": ""}),
    ("STOP", "unsubscribe", {"word": "stop", "area": ""}),
    ("stop.", "unsubscribe", {"word": "stop", "area": ""}),
    ("STOPALL", "unsubscribe", {"word": "stopall", "area": ""}),
    ("UNSUBSCRIBE", "unsubscribe", {"word": "unsubscribe", "area": ""}),
    ("CANCEL", "unsubscribe", {"word": "cancel", "area": ""}),
    ("END", "unsubscribe", {"word": "end", "area": ""}),
    ("QUIT", "unsubscribe", {"word": "quit", "area": ""}),
    ("Dừng", "unsubscribe", {"word": "dung", "area": ""}),
    # help
    ("HD", "help", {"empty": False}),
    ("?", "help", {"empty": False}),
    ("??", "help", {"empty": False}),
    ("TRO GIUP", "help", {"empty": False}),
    ("trợ giúp", "help", {"empty": False}),
    ("HELP", "help", {"empty": False}),
    ("Hướng dẫn", "help", {"empty": False}),
    ("", "help", {"empty": True}),
    ("   ", "help", {"empty": True}),
    # confirm
    ("OK", "confirm", {}),
    ("ok", "confirm", {}),
    ("Ok!", "confirm", {}),
    ("1", "confirm", {}),
    ("DA NHAN", "confirm", {}),
    ("Đã nhận", "confirm", {}),
    ("danhan", "confirm", {}),
    ("da nhna", "confirm", {}),                          # swapped letters
    # confirmations inside a short sentence
    ("đã nhận được rồi", "confirm", {}),
    ("Da nhan duoc roi", "confirm", {}),
    ("ok nhé", "confirm", {}),
    ("OK nhe", "confirm", {}),
    ("oki", "confirm", {}),
    ("Okie", "confirm", {}),
    ("nhận được thông báo, cảm ơn", "confirm", {}),
    ("Đã nhận, cảm ơn anh", "confirm", {}),
    ("Da nhan roi a", "confirm", {}),
    ("Dạ đã nhận", "confirm", {}),
    ("Vâng, đã biết", "confirm", {}),
    ("Cảm ơn ủy ban xã", "confirm", {}),
    ("Da nghe thong bao roi nhe", "confirm", {}),
    # …and reports that merely start with those words
    ("ok nhưng đường bị ngập, xe không qua được", "report",
     {"text": "ok nhưng đường bị ngập, xe không qua được", "keyword": False}),
    ("Đã nhận được tiền hỗ trợ nhưng thiếu 200.000 đồng", "report",
     {"text": "Đã nhận được tiền hỗ trợ nhưng thiếu 200.000 đồng", "keyword": False}),
    ("Nhận được thông báo nhưng không biết họp ở đâu", "report",
     {"text": "Nhận được thông báo nhưng không biết họp ở đâu", "keyword": False}),
    ("Cảm ơn, nhưng đèn đường vẫn chưa sửa", "report",
     {"text": "Cảm ơn, nhưng đèn đường vẫn chưa sửa", "keyword": False}),
    ("Oki mai toi mang so tiem den", "report", {"text": "Oki mai toi mang so tiem den", "keyword": False}),
]


@pytest.mark.parametrize("text, intent, args", CASES, ids=[repr(c[0]) for c in CASES])
def test_parse(text, intent, args):
    assert parse(text) == Command(intent, args)


@pytest.mark.parametrize("typed, keyword, same", [
    ("dk", "dk", True), ("ek", "dk", True), ("dl", "dk", True), ("dm", "dk", False),
    ("dangki", "dangky", True), ("dangk", "dangky", True), ("dagnky", "dangky", True), ("dangke", "dangky", False),
    ("tim", "tin", True), ("tan", "tin", False), ("hux", "huy", True), ("hu", "huy", False),
])
def test_keypad_slips(typed, keyword, same):
    assert similar(typed, keyword) is same


@pytest.mark.parametrize("text, category", [
    ("cong thoat nuoc bi tac o hem 12", "environment"),
    ("Rác đổ trộm ven đường", "environment"),
    ("Có trộm vào nhà", "security"),
    ("Heo chết hàng loạt, nghi dịch tả", "health"),
    ("Ông Tư bị lạc, ai thấy báo giúp", "person"),
    ("Cho hỏi lịch tiêm cho trẻ", "health"),
    ("Xin chào", "other"),
])
def test_category_guess(text, category):
    assert category_of(text) == category


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_never_fails_and_always_gives_a_known_intent(text):
    command = parse(text)
    assert command.intent in ("subscribe", "news", "report", "unsubscribe", "help", "confirm")
    if command.intent == "report" and not command.args["keyword"]:
        assert command.args["text"] == text.strip() or command.args["text"] == __import__("unicodedata").normalize(
            "NFC", text).strip()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["Tin", "Huy", "Stop", "Ok", "Hd", "Dung"]),
       st.lists(st.sampled_from(["bao", "dong", "xe", "tai", "nguoi", "la", "o", "hem", "co", "chay", "nha"]),
                min_size=3, max_size=8))
def test_a_sentence_that_begins_with_a_command_word_is_a_report(first, rest):
    text = " ".join([first, *rest])
    assert parse(text).intent == "report"
