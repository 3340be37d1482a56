"""Report categories: one table that the models, the hotline's category menu, SMS commands,
Open311 and the console all read. A new category is one row here (and its i18n-free labels).

Each row: the code stored on a report, the hotline keypad key, the labels officials and the
group read (Vietnamese, English), the phrase the hotline menu says before "bấm <key>", the
Open311 service description, and the folded words in an SMS that suggest it (a first guess
officials can change; `gateway.sms.commands.category_of`).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    key: str
    vi: str
    en: str
    spoken: str
    description: str
    keywords: tuple = ()  # folded phrases (gateway.text.fold); a category in GUESS_ORDER has some


CATEGORIES = (
    Category("security", "1", "An ninh, trật tự", "Security, public order", "Phản ánh về an ninh trật tự",
             "Trộm cắp, người lạ, đánh nhau, lừa đảo, mất an ninh trật tự.",
             ("trom", "cuop", "danh nhau", "nguoi la", "lua dao", "ma tuy", "bao luc", "mat trom", "dam nhau",
              "trat tu", "an ninh", "do xe", "dua xe")),
    Category("environment", "2", "Môi trường, rác thải, tiếng ồn", "Environment, waste, noise",
             "Về môi trường, rác thải, tiếng ồn", "Rác thải, nước thải, tiếng ồn, cây đổ, đường hỏng.",
             ("rac", "nuoc", "cong", "on ao", "tieng on", "khoi", "mui", "ngap", "thoat nuoc", "duong hong", "o ga",
              "den duong", "cay do", "o nhiem", "loa", "do trom", "xa rac")),
    Category("health", "3", "Y tế, dịch bệnh vật nuôi", "Health, livestock disease", "Về y tế, dịch bệnh vật nuôi",
             "Dịch bệnh ở người và vật nuôi, ngộ độc, vệ sinh thực phẩm.",
             ("dich", "benh", "sot", "tiem", "vac xin", "ngo doc", "lo mom", "cum ga", "ta lon", "heo chet",
              "ga chet", "chet hang loat", "y te")),
    Category("person", "4", "Người cần giúp đỡ", "Person needing help", "Có người cần giúp đỡ, như người già đi lạc",
             "Người già đi lạc, người ốm không ai chăm, trẻ em cần giúp.",
             ("lac", "mat tich", "nguoi gia", "tim nguoi", "giup do", "cap cuu", "om nang", "nguoi khuyet tat")),
    Category("other", "5", "Việc khác", "Other", "Việc khác", "Các việc khác cần chính quyền biết."),
)
CODES = tuple(c.code for c in CATEGORIES)
BY_CODE = {c.code: c for c in CATEGORIES}
BY_KEY = {c.key: c for c in CATEGORIES}
DEFAULT = "other"  # what a report is filed as when nothing says otherwise
# When an SMS's words suggest two categories equally, the more pressing one is guessed.
GUESS_ORDER = ("security", "health", "person", "environment")


def label(code, lang="vi"):
    """What officials and the group read for category `code` (the code itself when unknown)."""
    category = BY_CODE.get(code)
    if category is None:
        return code
    return category.en if lang == "en" else category.vi


def menu_text():
    """The hotline's category menu: "Phản ánh về an ninh trật tự, bấm 1. … Việc khác, bấm 5."."""
    return " ".join(f"{c.spoken}, bấm {c.key}." for c in CATEGORIES)
