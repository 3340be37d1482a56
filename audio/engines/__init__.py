"""Speech engines behind one interface (`audio.engines.base.Engine`), chosen by name.

`ENGINES` maps each name to the dotted path of its class; a class is imported only when it
is first used, so choosing espeak never imports gTTS or piper.
"""
from importlib import import_module

from audio.engines.base import EngineConfigError

ENGINES = {
    "espeak": "audio.engines.espeak.EspeakEngine",
    "gtts": "audio.engines.gtts.GTTSEngine",
    "piper": "audio.engines.piper.PiperEngine",
}


def engine_class(name):
    """The class registered as `name`; EngineConfigError listing the known names otherwise."""
    try:
        dotted = ENGINES[name]
    except KeyError:
        raise EngineConfigError(
            f"Unknown speech engine '{name}'; choose one of: {', '.join(sorted(ENGINES))}."
        ) from None
    module, _, attr = dotted.rpartition(".")
    return getattr(import_module(module), attr)


def get_engine(name, **options):
    """An engine instance: `get_engine("espeak", rate=140)`; options are the engine's own."""
    return engine_class(name)(**options)
