"""Per-commune settings: hotline numbers, group target and chat id, duty officer, quiet hours,
prompt recordings, SMS price, the languages households listen in (and their prompt recordings). Checked when saved, each refusal with a reason in Vietnamese.

Empty means "inherit": an area without a value uses its commune's, a commune its province's.
"""
from gateway import languages
from gateway.models import AudioAsset
from gateway.phone import hotline, normalize

# Keys in Area.settings (the rest are columns of Area).
OTHER_HOTLINES = "other_hotline_numbers"
QUIET_HOURS = "quiet_hours"
SMS_PRICE = "sms_price_vnd"
PROMPT_RECORDINGS = "prompt_recordings"  # the hotline's key (gateway.ivr.prompts.RECORDINGS_SETTING)
PROMPT_RECORDING_TEXTS = "prompt_recording_texts"  # gateway.ivr.prompts.RECORDED_TEXTS_SETTING
# Settings that only make sense for a whole commune (or a province, whose communes inherit them).
COMMUNE_FIELDS = ("hotline_numbers", "duty_officer_phone", "quiet_hours", "sms_price", "prompt_recordings",
                  "languages", "language_prompts")
FIELDS = ("hotline_numbers", "group_target", "group_chat_id", "duty_officer_phone", "quiet_hours", "sms_price",
          "prompt_recordings", "languages", "language_prompts")
LABELS = {"hotline_numbers": "Số tổng đài", "group_target": "Nhóm chat (loại)", "group_chat_id": "Mã nhóm chat",
          "duty_officer_phone": "Số cán bộ trực", "quiet_hours": "Giờ yên tĩnh", "sms_price": "Giá một tin SMS",
          "prompt_recordings": "Lời chào ghi âm", "languages": "Ngôn ngữ khác ngoài tiếng Việt",
          "language_prompts": "Lời ghi âm theo ngôn ngữ"}
SMS_PRICE_MAX = 100_000


def validate_hotline(text):
    """A hotline number as stored (E.164), or ValueError with the reason.

    The one place hotline numbers are checked; mobiles, landlines and 1800/1900 service numbers
    (4 or 6 digits after the prefix) are accepted (`gateway.phone.hotline`)."""
    return hotline(text)


def hotline_numbers(area):
    """Every number of the area's hotline (its main one first), inherited from the commune."""
    main = area.inherited("hotline_number")
    others = area.inherited(OTHER_HOTLINES) or []
    return [n for n in [main, *others] if n]


def current(area):
    """The area's own settings as the form shows them (strings; empty: inherited)."""
    own = area.settings or {}
    numbers = [n for n in [area.hotline_number, *(own.get(OTHER_HOTLINES) or [])] if n]
    price = own.get(SMS_PRICE)
    return {
        "hotline_numbers": ", ".join(numbers), "group_target": area.group_target or "",
        "group_chat_id": area.group_chat_id or "", "duty_officer_phone": area.duty_officer_phone or "",
        "quiet_hours": own.get(QUIET_HOURS) or "", "sms_price": "" if price is None else _price_text(price),
        "prompt_recordings": dict(own.get(PROMPT_RECORDINGS) or {}),
        "languages": languages.setting_text(own.get(languages.SETTING)),
        "language_prompts": {code: dict(m) for code, m in (own.get(languages.PROMPTS_SETTING) or {}).items()},
    }


def _price_text(price):
    return str(int(price)) if float(price).is_integer() else str(price)


class SettingsError(ValueError):
    """Some values were refused: `.errors` is field → reason."""

    def __init__(self, errors):
        super().__init__(" ".join(f"{LABELS[k]}: {v}" for k, v in errors.items()))
        self.errors = errors


def apply(session, area, changes):
    """Check `changes` (field → text; "" clears, missing keeps) and save them into `area`.

    Raises SettingsError with every reason, saving nothing, when any value is refused. Flushes."""
    from gateway.announcements.quiet import parse_span
    from gateway.mirror import MIRROR_TARGETS

    errors, values = {}, {}
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    for key in changes:
        if key in COMMUNE_FIELDS and area.level not in ("province", "commune"):
            errors[key] = f"chỉ đặt cho cả xã/phường (hoặc tỉnh); {area.name} dùng của xã."
    if "hotline_numbers" in changes and "hotline_numbers" not in errors:
        numbers = []
        for part in _split(changes["hotline_numbers"]):
            try:
                number = validate_hotline(part)
            except ValueError as exc:
                errors["hotline_numbers"] = f"'{part}' không phải số điện thoại: {exc}"
                break
            if number not in numbers:
                numbers.append(number)
        values["hotline_numbers"] = numbers
    if changes.get("duty_officer_phone", "").strip() and "duty_officer_phone" not in errors:
        try:
            values["duty_officer_phone"] = normalize(changes["duty_officer_phone"])
        except ValueError as exc:
            errors["duty_officer_phone"] = str(exc)
    target = (changes.get("group_target", area.group_target or "") or "").strip()
    chat_id = (changes.get("group_chat_id", area.group_chat_id or "") or "").strip()
    if "group_target" in changes or "group_chat_id" in changes:
        if target and target not in MIRROR_TARGETS.names():
            errors["group_target"] = (f"'{target}' không phải loại nhóm đã biết; chọn một trong: "
                                      f"{', '.join(MIRROR_TARGETS.names())}.")
        elif target and not chat_id:
            errors["group_chat_id"] = "có loại nhóm thì cần mã nhóm chat (chat id)."
        elif chat_id and not target:
            errors["group_target"] = "có mã nhóm chat thì cần chọn loại nhóm (telegram, zalo…)."
        elif len(chat_id) > 120:
            errors["group_chat_id"] = "mã nhóm chat dài quá 120 ký tự."
    if changes.get("quiet_hours", "").strip() and "quiet_hours" not in errors:
        try:
            parse_span(changes["quiet_hours"])
        except ValueError:
            errors["quiet_hours"] = f"'{changes['quiet_hours']}' không đọc được: viết dạng 21:00-06:30 (giờ Việt Nam)."
    if changes.get("sms_price", "").strip() and "sms_price" not in errors:
        try:
            price = float(changes["sms_price"].replace(" ", "").replace(",", "."))
        except ValueError:
            price = None
        if price is None or not 0 <= price <= SMS_PRICE_MAX:
            errors["sms_price"] = f"'{changes['sms_price']}' không phải giá hợp lệ (số đồng, ví dụ 800)."
        else:
            values["sms_price"] = price
    if "prompt_recordings" in changes and "prompt_recordings" not in errors:
        mapping, problem = _recordings(session, area, changes["prompt_recordings"])
        if problem:
            errors["prompt_recordings"] = problem
        values["prompt_recordings"] = mapping
        if not problem:
            from gateway.ivr.prompts import recorded_texts

            values["prompt_recording_texts"] = recorded_texts(session, area, mapping)
    if "languages" in changes and "languages" not in errors:
        try:
            values["languages"] = languages.parse_setting(changes["languages"])
        except ValueError as exc:
            errors["languages"] = str(exc)
    if "language_prompts" in changes and "language_prompts" not in errors:
        spoken = values.get("languages", (area.settings or {}).get(languages.SETTING) or {})
        values["language_prompts"] = {}
        for code, mapping in (changes["language_prompts"] or {}).items():
            if code not in spoken and "languages" in changes:
                continue  # the language was just removed: its recordings go with it
            if code not in spoken:
                errors["language_prompts"] = f"xã chưa có ngôn ngữ '{code}' (thêm nó vào ô ngôn ngữ trước)."
                break
            checked, problem = _recordings(session, area, mapping)
            if problem:
                errors["language_prompts"] = f"{languages.name_of(code, spoken)}: {problem}"
                break
            if checked:
                values["language_prompts"][code] = checked
    if errors:
        raise SettingsError(errors)
    _store(area, changes, values)
    session.flush()


def _split(text):
    return [p.strip() for p in str(text or "").replace(";", ",").split(",") if p.strip()]


def _recordings(session, area, mapping):
    """{prompt key: asset id} checked against the hotline's prompts and the uploaded recordings."""
    from gateway.ivr.prompts import catalogue

    known = catalogue(session, area if area.level == "commune" else None)
    out = {}
    for key, asset_id in (mapping or {}).items():
        if key not in known:
            return out, f"không có lời '{key}' trên tổng đài (xem `ivr prompts`)."
        asset = session.get(AudioAsset, int(asset_id)) if str(asset_id).isdigit() else None
        if asset is None or asset.original_path is None:
            return out, f"không có bản ghi âm số {asset_id} cho lời '{key}'."
        if asset.status == "failed":
            return out, f"bản ghi âm số {asset_id} không dùng được: {asset.error or 'lỗi xử lý'}."
        out[key] = asset.id
    return out, None


def _store(area, changes, values):
    settings = dict(area.settings or {})
    if "hotline_numbers" in changes:
        numbers = values["hotline_numbers"]
        area.hotline_number = numbers[0] if numbers else None
        _put(settings, OTHER_HOTLINES, numbers[1:])
    if "duty_officer_phone" in changes:
        area.duty_officer_phone = values.get("duty_officer_phone")
    if "group_target" in changes:
        area.group_target = changes["group_target"].strip() or None
    if "group_chat_id" in changes:
        area.group_chat_id = changes["group_chat_id"].strip() or None
    if "quiet_hours" in changes:
        _put(settings, QUIET_HOURS, changes["quiet_hours"].replace(" ", ""))
    if "sms_price" in changes:
        _put(settings, SMS_PRICE, values.get("sms_price"))
    if "prompt_recordings" in changes:
        _put(settings, PROMPT_RECORDINGS, values["prompt_recordings"])
        _put(settings, PROMPT_RECORDING_TEXTS, values.get("prompt_recording_texts"))
    if "languages" in changes:
        _put(settings, languages.SETTING, values["languages"])
    if "language_prompts" in changes:
        _put(settings, languages.PROMPTS_SETTING, values["language_prompts"])
    # A new dict: the JSON column only notices assignment.
    area.settings = settings


def _put(settings, key, value):
    if value in (None, "", [], {}):
        settings.pop(key, None)
    else:
        settings[key] = value


def sms_price(area, config):
    """The price of one SMS segment for `area`: its commune's setting, else SMS_PRICE_VND."""
    price = area.inherited(SMS_PRICE) if area is not None else None
    return float(price if price is not None else (config.get("SMS_PRICE_VND") or 0))
