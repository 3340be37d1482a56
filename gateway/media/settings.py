"""The audio settings, read and checked once (a wrong one stops the start with its name)."""
from audio.spec import ENGINE_NAMES, Layout
from gateway.config import ConfigError


def check(config):
    """Raise ConfigError naming a wrong audio setting."""
    engine = config.get("TTS_ENGINE")
    if engine not in ENGINE_NAMES:
        raise ConfigError(f"TTS_ENGINE={engine!r} is not a speech engine; choose one of: {', '.join(ENGINE_NAMES)}.")
    if engine == "piper" and not config.get("PIPER_MODEL"):
        raise ConfigError("TTS_ENGINE=piper needs PIPER_MODEL: the path of a piper voice model (.onnx).")
    for name, low, high in (("AUDIO_LOUDNESS", -40, -5), ("AUDIO_TRUE_PEAK", -12, 0), ("GTTS_TIMEOUT", 1, 120),
                            ("GTTS_RETRIES", 0, 10), ("UPLOAD_MAX_MB", 1, 500), ("UPLOAD_MAX_SECONDS", 5, 7200)):
        try:
            value = float(config.get(name))
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={config.get(name)!r} is not a number.") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}={value:g} is outside {low}…{high}.")


def engine_options(config, engine):
    """Options that change how `engine` sounds (stored on the asset, part of its cache key)."""
    if engine == "piper":
        return {"model": config.get("PIPER_MODEL")}
    return {}


def runtime_options(config, engine):
    """Options that do not change the sound (timeouts, retries), added when the job runs."""
    if engine == "gtts":
        return {"timeout": float(config["GTTS_TIMEOUT"]), "retries": int(float(config["GTTS_RETRIES"]))}
    return {}


def layout(config, kind, intro=""):
    """The layout of an asset of `kind`: announcements and bulletins get the loudspeaker convention."""
    loudness = {"target_lufs": float(config["AUDIO_LOUDNESS"]), "ceiling_dbtp": float(config["AUDIO_TRUE_PEAK"])}
    if kind in ("announcement", "bulletin"):
        chime = str(config.get("AUDIO_CHIME", "1")).lower() not in ("0", "false", "no", "")
        return Layout(chime=chime, intro=intro, repeat=2, **loudness)
    return Layout(intro=intro, **loudness)


def upload_limits(config):
    return {"max_bytes": int(float(config["UPLOAD_MAX_MB"]) * 1024 * 1024),
            "max_seconds": float(config["UPLOAD_MAX_SECONDS"])}
