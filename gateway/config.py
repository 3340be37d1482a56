"""Settings: one table of names, read from the environment, with embedded defaults.

Every setting is an environment variable of the same name; `create_app(config)` applies
`config` last. The README's configuration table is generated from `SETTINGS`.
"""
import json
import os
import re
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    secret: bool = False  # production refuses to start when a needed secret is empty


SETTINGS = (
    Setting("GATEWAY_ENV", "development", "`production` turns on the start-up checks for secrets."),
    Setting("SECRET_KEY", "", "Signs sessions and tokens. Generated into the instance folder in development.", True),
    Setting("DATABASE_URL", "", "SQLAlchemy URL, e.g. `postgresql+psycopg://user@host/db`. Empty: SQLite in the instance folder."),
    Setting("REDIS_URL", "", "Redis for the RQ queues, e.g. `redis://127.0.0.1:6379/0`. Empty: in-process queue with a worker thread."),
    Setting("EMBEDDED_WORKER", "1", "With no REDIS_URL: `1` runs jobs in a thread of the web process; `0` only when drained (tests)."),
    Setting("INSTANCE_PATH", "", "Folder for the SQLite file, audio and development secrets. Empty: `instance/` beside the code."),
    Setting("PUBLIC_BASE_URL", "", "The URL providers call, e.g. `https://gw.example.vn`; webhook signatures are checked against it."),
    Setting("TWILIO_ACCOUNT_SID", "", "Twilio account (needed when a Twilio provider is chosen)."),
    Setting("TWILIO_AUTH_TOKEN", "", "Checks `X-Twilio-Signature`. Generated in development so the phone simulator can sign.", True),
    Setting("TWILIO_FROM_NUMBER", "", "The Twilio number SMS and calls come from."),
    Setting("SMS_PROVIDER", "outbox", "Outbound SMS provider: a name from the provider registry."),
    Setting("VOICE_PROVIDER", "outbox", "Outbound call provider: a name from the provider registry."),
    Setting("AUDIO_DIR", "", "Where rendered audio and recordings live. Empty: `audio/` in the instance folder."),
    Setting("TTS_ENGINE", "espeak", "Speech engine: `espeak` (offline), `gtts` (falls back to espeak), `piper`."),
    Setting("TELEGRAM_BOT_TOKEN", "", "Telegram bot posting into groups whose area target is `telegram`.", True),
    Setting("TELEGRAM_WEBHOOK_SECRET", "", "`secret_token` given to Telegram's setWebhook; checked on /bots/telegram.", True),
    Setting("ZALO_BOT_TOKEN", "", "Zalo Bot Platform token (`<bot_id>:<secret>`) for target `zalo`.", True),
    Setting("ZALO_WEBHOOK_SECRET", "", "`secret_token` given to Zalo's setWebhook; checked on /bots/zalo.", True),
    Setting("ZALO_OA_ACCESS_TOKEN", "", "Zalo Official Account token for group messages (target `zalo_oa`).", True),
    Setting("GROUP_WEBHOOK_SECRET", "", "HMAC key signing posts to target `webhook` and replies on /bots/webhook.", True),
    Setting("PIPER_MODEL", "", "Path of a piper voice model (`.onnx`, with its `.onnx.json` beside it); needed for `TTS_ENGINE=piper`."),
    Setting("GTTS_TIMEOUT", "10", "Seconds gTTS waits for Google on each request before it retries."),
    Setting("GTTS_RETRIES", "2", "Retries after a failed gTTS request; then espeak speaks instead and the asset records the fallback."),
    Setting("AUDIO_LOUDNESS", "-16", "Integrated loudness (LUFS) every rendered file is normalized to."),
    Setting("AUDIO_TRUE_PEAK", "-1.5", "Highest true peak (dBTP) allowed in rendered files, measured after export."),
    Setting("AUDIO_CHIME", "1", "`1`: a chime before each announcement (loudspeakers and calls); `0`: none."),
    Setting("UPLOAD_MAX_MB", "20", "Largest recording officials may upload, in megabytes."),
    Setting("UPLOAD_MAX_SECONDS", "600", "Longest recording officials may upload, in seconds."),
    Setting("TRANSCRIBER", "", "Offline speech-to-text for voice reports: empty (off) or `vietasr` (needs `pip install viet-asr`)."),
    Setting("LOG_LEVEL", "INFO", "Python logging level."),
    # SMS (gateway/sms): what residents text, and the providers that carry it.
    Setting("HOTLINE_NUMBER", "", "Hotline residents call for the full text; an area's own `hotline_number` comes first."),
    Setting("SMS_DIGEST_SEGMENTS", "1", "SMS parts the reply to TIN (latest news) may take; never exceeded."),
    Setting("SMS_MAX_LENGTH", "1600", "Longest inbound SMS acted on (characters); longer ones are kept and answered with a notice."),
    Setting("SMS_RATE_LIMIT", "10/hour", "Inbound SMS per number acted on (`N/minute|hour|day`); beyond it: no replies, one report thread."),
    Setting("SMS_REPORT_THREAD_MINUTES", "30", "A text within this many minutes of a resident's last one joins their open report."),
    Setting("SMS_ANDROID_URL", "", "SMS Gateway for Android: the phone's API, e.g. `http://192.168.1.20:8080` (provider `android`)."),
    Setting("SMS_ANDROID_USER", "", "SMS Gateway for Android: Basic auth user (shown in the app, usually `sms`)."),
    Setting("SMS_ANDROID_PASSWORD", "", "SMS Gateway for Android: Basic auth password (shown in the app).", True),
    Setting("SMS_ANDROID_SIM", "", "SMS Gateway for Android: which SIM (1-3) sends (`simNumber`); empty: the app's own choice. A pool sender's `--sim` comes first."),
    Setting("SMS_ANDROID_SIGNING_KEY", "", "SMS Gateway for Android: webhook signing key; checks `X-Signature` on /sms/android.", True),
    Setting("ESMS_API_KEY", "", "eSMS.vn ApiKey (provider `esms`, brandname SMS)."),
    Setting("ESMS_SECRET_KEY", "", "eSMS.vn SecretKey.", True),
    Setting("ESMS_BRANDNAME", "", "eSMS.vn registered brandname the SMS come from."),
    Setting("ESMS_CALLBACK_TOKEN", "", "Secret in the eSMS delivery callback URL (/sms/esms/status?token=…); eSMS does not sign.", True),
    Setting("ESMS_SANDBOX", "0", "`1`: eSMS validates only, nothing is sent or charged."),
    Setting("KANNEL_SENDSMS_URL", "", "Kannel smsbox sendsms, e.g. `http://127.0.0.1:13013/cgi-bin/sendsms` (provider `kannel`)."),
    Setting("KANNEL_USERNAME", "", "Kannel: the `sendsms-user` username."),
    Setting("KANNEL_PASSWORD", "", "Kannel: the `sendsms-user` password.", True),
    Setting("KANNEL_SECRET", "", "Kannel: secret in the sms-service get-url (/sms/kannel/inbound?secret=…) and in each dlr-url.", True),
    Setting("KANNEL_FROM", "", "Kannel: the sender number or short code (`from`); a pool sender's own number comes first."),
    Setting("KANNEL_SMSC", "", "Kannel: the `smsc-id` to send through (empty: Kannel routes); a pool sender's own comes first."),
    Setting("KANNEL_CALLBACK_URL", "", "Kannel: the gateway's URL as smsbox reaches it, for delivery reports (empty: PUBLIC_BASE_URL)."),
    Setting("KANNEL_ADMIN_URL", "", "Kannel: bearerbox admin, e.g. `http://127.0.0.1:13000`; lets a message a crashed worker left be checked, not guessed."),
    Setting("KANNEL_ADMIN_PASSWORD", "", "Kannel: bearerbox `admin-password` (status page).", True),
    Setting("GAMMU_SPOOL_DIR", "", "gammu-smsd (`files` service, a USB modem): the folder holding its `outbox/`, `sent/` and `error/`, e.g. `/var/spool/gammu` (provider `gammu`)."),
    # Hotline and voice calls (gateway/ivr).
    Setting("HOTLINE_MODE", "answer", "`answer`: the hotline answers calls; `callback`: it rejects them (busy, free for the caller) and calls back."),
    Setting("IVR_RECORD_MAX_SECONDS", "120", "Longest voice report a caller can record, in seconds (`#` ends it sooner)."),
    Setting("IVR_SAY_VOICE", "Google.vi-VN-Standard-A", "Twilio `<Say>` voice used (with `language=\"vi-VN\"`) only while a prompt's audio is not rendered yet."),
    Setting("DUTY_OFFICER_PHONE", "", "Who key 0 on the hotline reaches when no area sets `duty_officer_phone`."),
    Setting("VOICE_MAX_CONCURRENT", "5", "Outbound calls ringing or in progress at once; more wait a little."),
    Setting("VOICE_RETRY_MINUTES", "10,30", "Minutes before retrying a call that was not answered, busy or failed: `10,30` makes three attempts in all."),
    Setting("TWILIO_API_BASE_URL", "", "A Twilio-compatible REST API (a commune's own Somleng, e.g. `https://somleng.example.vn`); empty: Twilio's."),
    Setting("STRINGEE_API_KEY_SID", "", "Stringee API key SID (`VOICE_PROVIDER=stringee`): signs the REST JWT for outbound calls."),
    Setting("STRINGEE_API_KEY_SECRET", "", "Stringee API key secret.", True),
    Setting("STRINGEE_SIGNING_SECRET", "", "Stringee project's signing secret: checks `X-STRINGEE-SIGNATURE` on /ivr/stringee/*. Generated in development so the phone simulator can sign.", True),
    Setting("STRINGEE_NUMBER", "", "The Stringee number (1800/1900, landline or mobile) calls come from, e.g. `842473001234`."),
    Setting("CALLBACK_UNKNOWN_PER_HOUR", "20", "Missed-call callbacks to numbers not on the household list, per hour across the gateway."),
    # Broadcasts (gateway/broadcast): fan-out, send rate, escalation.
    Setting("BROADCAST_CHUNK_SIZE", "500", "Households per fan-out job of a broadcast (one bulk insert, one send job per channel)."),
    Setting("SMS_RATE_PER_SECOND", "30", "Broadcast SMS per second to the SMS provider, shared by all workers (a limit in Redis)."),
    Setting("ESCALATE_AFTER_MINUTES", "30", "An urgent announcement an elderly or no-smartphone household has not confirmed this long after its SMS gets a call."),
    Setting("RECONCILE_INTERVAL_SECONDS", "30", "How often the workers' reconciler looks for work whose job was lost (Redis restarted, a worker killed) and queues it again."),
    Setting("RECONCILE_AFTER_SECONDS", "60", "Work left pending, sending or posting this long past its due time, with no live job, is redone by the reconciler."),
    Setting("BROADCAST_AUDIO_WAIT_MINUTES", "30", "How long an announcement's group post waits for its audio; then it is posted without the link."),
    # Officials' console and phone simulator (gateway/console).
    Setting("CONSOLE_SESSION_MINUTES", "60", "Console log-ins end after this many minutes without activity."),
    Setting("TRUSTED_PROXIES", "0", "Reverse proxies in front of the app whose `X-Forwarded-For`/`-Proto` are believed (the log-in lock is per client address)."),
    Setting("SMS_PRICE_VND", "800", "Price of one SMS segment in đồng, for the cost estimate when composing."),
    Setting("ALLOW_OUTBOX", "", "`1`: production may run with the `outbox` SMS or voice provider or group target (nothing is really sent); refused otherwise."),
    Setting("SIMULATOR_ENABLED", "", "Phone simulator at /console/simulator: on outside production; `1` turns it on in production too, `0` off everywhere."),
)

NAMES = frozenset(s.name for s in SETTINGS)
# Secrets production needs whatever the providers are; providers add their own through
# `required_settings` on their classes (checked by gateway.providers).
PRODUCTION_REQUIRED = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL")


class ConfigError(RuntimeError):
    """The configuration cannot run: the message names what is missing."""


def from_environ(environ=None):
    """The settings found in the environment, with defaults for the rest."""
    environ = os.environ if environ is None else environ
    return {s.name: environ.get(s.name, s.default) for s in SETTINGS}


def fill_development_defaults(config, instance_path):
    """Give a development instance everything it needs to run with no configuration."""
    if not config.get("AUDIO_DIR"):
        config["AUDIO_DIR"] = os.path.join(instance_path, "audio")
    if config.get("GATEWAY_ENV") == "production":
        return  # production names its own database and secrets (check_production)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "gateway.sqlite")
    missing = [k for k in ("SECRET_KEY", "TWILIO_AUTH_TOKEN", "STRINGEE_SIGNING_SECRET") if not config.get(k)]
    if missing:
        # Persisted so the phone simulator's signatures survive a restart.
        path = os.path.join(instance_path, "dev-secrets.json")
        stored = {}
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                stored = json.load(f)
        changed = False
        for key in missing:
            if key not in stored:
                stored[key] = secrets.token_hex(20)
                changed = True
            config[key] = stored[key]
        if changed:
            os.makedirs(instance_path, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(stored, f)


def check_production(config, extra_required=()):
    """Raise ConfigError naming every missing setting when production cannot start."""
    if config.get("GATEWAY_ENV") != "production":
        return
    missing = [k for k in (*PRODUCTION_REQUIRED, *extra_required) if not config.get(k)]
    if missing:
        raise ConfigError(
            "Production refuses to start: set " + ", ".join(missing)
            + " (see the configuration table in README.md)."
        )
    if not allow_outbox(config):
        outbox = [f"{k}=outbox" for k in ("SMS_PROVIDER", "VOICE_PROVIDER") if config.get(k) == "outbox"]
        if outbox:
            raise ConfigError(
                "Production refuses to start: " + ", ".join(outbox) + " sends nothing to residents; choose a real "
                "provider (see the configuration table in README.md), or set ALLOW_OUTBOX=1 to run without one on purpose.")
    if len(str(config["SECRET_KEY"])) < 16:
        raise ConfigError("Production refuses to start: SECRET_KEY must be at least 16 characters.")
    if not str(config["PUBLIC_BASE_URL"]).startswith("https://"):
        raise ConfigError("Production refuses to start: PUBLIC_BASE_URL must be an https:// URL.")


def allow_outbox(config):
    """True when ALLOW_OUTBOX asks for the outbox in production on purpose."""
    return str(config.get("ALLOW_OUTBOX") or "").strip().lower() in ("1", "true", "yes", "on")


def check_group_targets(config, session):
    """Raise ConfigError when production would mirror into the outbox: areas whose group target is `outbox`."""
    from sqlalchemy import select

    from gateway.models import Area

    if config.get("GATEWAY_ENV") != "production" or allow_outbox(config):
        return
    codes = list(session.scalars(select(Area.code).where(Area.group_target == "outbox").order_by(Area.id).limit(6)))
    if codes:
        more = ", …" if len(codes) > 5 else ""
        raise ConfigError(
            "Production refuses to start: the group target of areas " + ", ".join(codes[:5]) + more + " is outbox "
            "(nothing reaches the groups); set a real target with `python -m gateway areas edit`, or ALLOW_OUTBOX=1.")


def markdown_table():
    """The configuration table for the README."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(empty)"
        rows.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(rows)


SETTING_ROW = re.compile(r"^\| `[A-Z][A-Z0-9_]*` \|.*\|\s*$", re.M)


def setting_rows(text):
    """The settings rows (`| `NAME` | … |`) anywhere in `text`, as (name, line)."""
    return [(m.group(0).split("`")[1], m.group(0).rstrip()) for m in SETTING_ROW.finditer(text)]


def update_readme(path):
    """Rewrite the configuration table in README.md from SETTINGS (`python -m gateway.config`),
    dropping settings rows left anywhere else (a table pasted twice, a removed setting)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.index("| variable | default | what it does |")
    end = text.find("\n\n", start)
    before, after = text[:start], (text[end:] if end != -1 else "\n")
    stray = re.compile(SETTING_ROW.pattern + r"\n?", re.M)
    after = re.sub(r"\n{3,}", "\n\n", stray.sub("", after))
    text = stray.sub("", before) + markdown_table() + after
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    update_readme(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md"))
