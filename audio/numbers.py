"""Vietnamese number words: cardinals, digit strings, decimals, ordinals, months, years.

The rules a speech engine gets wrong, made explicit:
- 1 after "mươi" is "mốt" (21 hai mươi mốt), but 11 is "mười một" and 101 "một trăm linh một";
- 5 after a tens digit is "lăm" (15 mười lăm, 25 hai mươi lăm), alone it is "năm" (105);
- 4 after "mươi" is "tư" (24 hai mươi tư), but 14 is "mười bốn";
- a zero tens digit after hundreds is "linh" (105 một trăm linh năm);
- an inner group under 100 gets "không trăm" (1005 một nghìn không trăm linh năm);
- groups are nghìn (10^3), triệu (10^6), tỷ (10^9); beyond, tỷ repeats (nghìn tỷ).
"""

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_GROUPS = ("", "nghìn", "triệu")


def digits(text):
    """Each digit of `text` as a word: "113" → "một một ba" (other characters are dropped)."""
    return " ".join(DIGITS[int(c)] for c in text if c.isdigit())


def _tens_units(n):
    """1..99, without a leading "linh" (the caller adds it)."""
    tens, units = divmod(n, 10)
    if tens == 0:
        return DIGITS[units]
    if tens == 1:
        head = "mười"
        tail = {0: "", 5: "lăm"}.get(units, DIGITS[units])
    else:
        head = DIGITS[tens] + " mươi"
        tail = {0: "", 1: "mốt", 4: "tư", 5: "lăm"}.get(units, DIGITS[units])
    return f"{head} {tail}".strip()


def _hundreds(n, full):
    """0..999 as one group; `full` reads a leading zero hundreds ("không trăm") and "linh"."""
    hundreds, rest = divmod(n, 100)
    words = []
    if hundreds or full:
        words.append(f"{DIGITS[hundreds]} trăm")
    if rest:
        if rest < 10 and words:
            words.append("linh")
        words.append(_tens_units(rest))
    return " ".join(words)


def cardinal(n):
    """A non-negative integer in words: 1005 → "một nghìn không trăm linh năm"."""
    n = int(n)
    if n < 0:
        return "âm " + cardinal(-n)
    if n == 0:
        return "không"
    if n >= 10**9:
        high, low = divmod(n, 10**9)
        head = cardinal(high) + " tỷ"
        return head if low == 0 else head + " " + _below_billion(low, full=True)
    return _below_billion(n, full=False)


def _below_billion(n, full):
    """0 < n < 10^9; `full` when a higher group was already read (zero groups then say so)."""
    groups = []
    rest = n
    while rest:
        rest, group = divmod(rest, 1000)
        groups.append(group)
    words = []
    started = full
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue  # 2.000.500: "hai triệu năm trăm", no "không nghìn"
        words.append(_hundreds(group, full=started))
        if _GROUPS[index]:
            words.append(_GROUPS[index])
        started = True
    return " ".join(words)


def decimal(integer, fraction):
    """`integer`,`fraction` (digit strings) read with "phẩy": ("1", "7") → "một phẩy bảy"."""
    head = cardinal(int(integer or "0"))
    if len(fraction) <= 2 and not fraction.startswith("0"):
        tail = cardinal(int(fraction))
    else:
        tail = digits(fraction)  # 1,05 "một phẩy không năm"; 3,125 digit by digit
    return f"{head} phẩy {tail}"


def ordinal(n):
    """The ordinal after "thứ": 1 → "nhất", 4 → "tư", 14 → "mười bốn"."""
    n = int(n)
    return {1: "nhất", 4: "tư"}.get(n) or cardinal(n)


def month(n):
    """A month's number after "tháng": 4 → "tư" (tháng tư), 1 → "một", 12 → "mười hai"."""
    n = int(n)
    return "tư" if n == 4 else cardinal(n)


ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def roman(text):
    """The value of an uppercase Roman numeral, or None when `text` is not one."""
    if not text or any(c not in ROMAN for c in text):
        return None
    total = 0
    for i, c in enumerate(text):
        value = ROMAN[c]
        if i + 1 < len(text) and ROMAN[text[i + 1]] > value:
            total -= value
        else:
            total += value
    return total if total > 0 and _to_roman(total) == text else None


def _to_roman(n):
    out = []
    for value, numeral in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                           (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out.append(numeral)
            n -= value
    return "".join(out)
