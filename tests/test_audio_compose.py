"""Composition: real espeak-ng renders measured with an independent meter (ffmpeg ebur128),
the loudspeaker layout, silence trimming, the two outputs, and the render cache."""
import numpy as np
import pytest
import responses

from audio import LOUDSPEAKER, PLAIN, Layout, RenderSpec, codec, render
from audio.compose import chime
from audio.spec import ESPEAK_DEFAULTS
from audio.engines.espeak import EspeakEngine
from audio.loudness import integrated_loudness, measure, normalize, true_peak
from tests.audio_helpers import ebur128, encode_as, ffmpeg, speech_wav, stream_info

ANNOUNCEMENT = ("UBND xã thông báo: từ 7h30 ngày 14/8, tiêm phòng dại cho chó mèo tại nhà văn hóa thôn. "
                "Mức phí 50.000đ/con. Liên hệ 0912 345 678.")


@pytest.fixture
def engine_calls(monkeypatch):
    """Counts every real espeak-ng synthesis."""
    calls = []
    original = EspeakEngine.synthesize

    def counting(self, text):
        calls.append(text)
        return original(self, text)

    monkeypatch.setattr(EspeakEngine, "synthesize", counting)
    return calls


def test_real_espeak_render_meets_the_loudness_target(tmp_path, engine_calls):
    r = render(RenderSpec(text=ANNOUNCEMENT, layout=LOUDSPEAKER), tmp_path)
    mp3, phone = tmp_path / r.mp3_path, tmp_path / r.phone_path
    # Measured again on the exported files by an independent meter.
    lufs, peak = ebur128(mp3)
    assert abs(lufs - (-16.0)) <= 1.0, lufs
    assert peak <= -1.5, peak
    phone_lufs, phone_peak = ebur128(phone)
    assert abs(phone_lufs - (-16.0)) <= 1.0 and phone_peak <= -1.5, (phone_lufs, phone_peak)
    # What the rendition records agrees with that meter.
    assert abs(r.loudness_lufs - lufs) <= 0.5 and abs(r.true_peak_dbtp - peak) <= 0.5
    assert abs(r.phone_loudness_lufs - phone_lufs) <= 0.5
    # The two outputs: MP3 44.1 kHz mono for loudspeakers, G.711 µ-law WAV 8 kHz mono for calls.
    assert stream_info(mp3).startswith("mp3, 44100 Hz, mono")
    assert stream_info(phone).startswith("pcm_mulaw") and "8000 Hz, mono" in stream_info(phone)
    assert phone.read_bytes()[:4] == b"RIFF"
    assert r.mp3_bytes == mp3.stat().st_size and r.phone_bytes == phone.stat().st_size
    assert abs(r.duration_ms / 1000 - codec.decode(mp3).duration) < 0.05
    assert (r.engine, r.voice, r.fallback_used, r.cached) == (
        "espeak", ESPEAK_DEFAULTS["loudspeaker"]["voice"], False, False)
    # The engine was given the spoken form, never digits.
    assert engine_calls and not any(c.isdigit() for text in engine_calls for c in text)
    assert "bảy giờ ba mươi" in engine_calls[0] and "không chín một hai" in engine_calls[0]


def test_loudspeaker_layout_says_the_message_twice_after_a_chime(tmp_path, engine_calls):
    once = render(RenderSpec(text=ANNOUNCEMENT, layout=PLAIN), tmp_path)
    twice = render(RenderSpec(text=ANNOUNCEMENT, layout=Layout(chime=True, repeat=2, pause_ms=2000)), tmp_path)
    message_ms = once.duration_ms - 800  # PLAIN adds 0.3 s before and 0.5 s after
    chime_ms = 3 * 550 + 500
    assert abs(twice.duration_ms - (once.duration_ms + chime_ms + 2000 + message_ms)) < 150
    assert len(engine_calls) == 2  # the repeated message is synthesized once per render
    # The pause between the two readings is silence.
    samples = codec.decode(tmp_path / twice.mp3_path).samples
    mid = (0.3 + chime_ms / 1000 + message_ms / 1000 + 1.0) * 44100
    assert np.max(np.abs(samples[int(mid - 0.6 * 44100): int(mid + 0.6 * 44100)])) < 0.01


def test_intro_is_spoken_before_the_message(tmp_path, engine_calls):
    r = render(RenderSpec(text="Mất điện từ 8h đến 11h.", layout=Layout(intro="Thông báo của UBND xã")), tmp_path)
    assert engine_calls == ["Thông báo của Ủy ban nhân dân xã.", "Mất điện từ tám giờ đến mười một giờ."]
    assert r.duration_ms > 3000


def test_recording_is_trimmed_normalized_and_needs_no_engine(tmp_path, engine_calls):
    """An official's quiet phone recording with long silences at both ends."""
    speech = speech_wav()
    seconds = codec.decode(speech).duration
    (tmp_path / "speech.wav").write_bytes(speech)
    padded = ffmpeg(["-i", str(tmp_path / "speech.wav"), "-af", "volume=-24dB,adelay=3000,apad=pad_dur=4",
                     "-c:a", "aac", "-f", "adts", "pipe:1"])
    r = render(RenderSpec(recording=padded, layout=PLAIN), tmp_path / "out")
    assert engine_calls == [] and r.engine is None
    assert abs(r.duration_ms / 1000 - (seconds + 0.8)) < 0.6  # 7 s of silence gone, margins kept
    lufs, peak = ebur128(tmp_path / "out" / r.mp3_path)
    assert abs(lufs + 16) <= 1.0 and peak <= -1.5


def test_same_render_twice_synthesizes_nothing(tmp_path, engine_calls):
    spec = RenderSpec(text=ANNOUNCEMENT, layout=LOUDSPEAKER)
    first = render(spec, tmp_path)
    assert len(engine_calls) == 1
    second = render(RenderSpec(text=ANNOUNCEMENT, layout=LOUDSPEAKER), tmp_path)
    assert len(engine_calls) == 1  # a cache hit: no synthesis, no encoding
    assert second.cached and second.content_hash == first.content_hash
    assert (second.mp3_path, second.loudness_lufs, second.duration_ms) == (first.mp3_path, first.loudness_lufs, first.duration_ms)
    # A damaged cache entry (a file gone) is rendered again rather than trusted.
    (tmp_path / first.phone_path).unlink()
    third = render(spec, tmp_path)
    assert not third.cached and len(engine_calls) == 2 and (tmp_path / first.phone_path).exists()


def test_content_hash_covers_what_is_heard():
    base = RenderSpec(text="Họp dân lúc 8h ngày 14/8.", layout=LOUDSPEAKER)
    key = base.content_hash()
    # Written differently, spoken the same: one rendition.
    assert RenderSpec(text="Họp dân lúc 8h, 14/8.".replace(",", " ngày"), layout=LOUDSPEAKER).content_hash() == key
    # Heard differently: another rendition.
    assert RenderSpec(text="Họp dân lúc 9h ngày 14/8.", layout=LOUDSPEAKER).content_hash() != key
    assert RenderSpec(text=base.text, layout=PLAIN).content_hash() != key
    assert RenderSpec(text=base.text, layout=LOUDSPEAKER, engine="gtts").content_hash() != key
    assert RenderSpec(text=base.text, layout=LOUDSPEAKER, engine_options={"rate": 120}).content_hash() != key
    assert RenderSpec(text=base.text, layout=LOUDSPEAKER, engine_options={"voice": "vi-vn-x-south"}).content_hash() != key
    assert RenderSpec(text=base.text, layout=LOUDSPEAKER, engine_options={"voice": ""}).content_hash() == key
    # Not heard: timeouts, retries, the espeak backend.
    quiet = {"timeout": 3, "retries": 5, "backend": "library"}
    assert RenderSpec(text=base.text, layout=LOUDSPEAKER, engine_options=quiet).content_hash() == key
    # A recording without intro does not depend on the engine.
    a = RenderSpec(recording=b"RIFF-one", engine="espeak").content_hash()
    assert a == RenderSpec(recording=b"RIFF-one", engine="gtts").content_hash()
    assert a != RenderSpec(recording=b"RIFF-two").content_hash()


def test_nothing_to_render_is_refused():
    with pytest.raises(ValueError, match="nothing to render"):
        RenderSpec(text="   ")


def test_gtts_fallback_is_carried_in_the_rendition(tmp_path):
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://translate.google.com.vn/_/TranslateWebserverUi/data/batchexecute",
                 status=500)
        r = render(RenderSpec(text="Thông báo mất điện.", engine="gtts",
                              engine_options={"retries": 1, "retry_delay": 0}), tmp_path)
    assert r.fallback_used and r.engine == "espeak" and "500" in r.fallback_reason
    assert (tmp_path / r.mp3_path).exists()


def test_normalize_reaches_target_and_ceiling():
    rng = np.random.default_rng(1)
    rate = 44100
    # Speech-like: noise bursts with a sharp transient, far too quiet.
    t = np.arange(rate * 4) / rate
    signal = 0.01 * rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 3 * t) > 0)
    signal[rate] = 0.2
    out = normalize(signal, rate, target_lufs=-16, ceiling_dbtp=-2)
    lufs, peak = measure(out, rate)
    assert abs(lufs + 16) <= 0.25 and peak <= -2 + 0.05
    assert integrated_loudness(np.zeros(rate), rate) == -70.0
    assert np.all(normalize(np.zeros(rate), rate) == 0)


def test_chime_is_audible_and_short():
    samples = np.array(chime().get_array_of_samples()) / 32768
    assert 1.5 < len(samples) / 44100 < 1.8 and true_peak(samples) < 0


def test_render_accepts_every_upload_format(tmp_path):
    """A recording in AMR (as old phones send it) becomes both outputs."""
    amr = encode_as(speech_wav(), "amr", ["-c:a", "libopencore_amrnb", "-ar", "8000", "-ac", "1"], tmp_path,
                    wheel=True)
    r = render(RenderSpec(recording=amr), tmp_path / "out")
    assert stream_info(tmp_path / "out" / r.mp3_path).startswith("mp3, 44100 Hz, mono")


def test_join_adds_chimes_where_asked_normalizes_and_caches(tmp_path):
    from audio.compose import join

    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    first.write_bytes(speech_wav("Thông báo thứ nhất."))
    second.write_bytes(speech_wav("Thông báo thứ hai."))
    out = tmp_path / "renders"
    plain = join([(str(first), False), (str(second), False)], str(out), pause_ms=1000)
    chimed = join([(str(first), True), (str(second), True)], str(out), pause_ms=1000)
    assert plain.content_hash != chimed.content_hash and not plain.cached
    parts = codec.decode(str(first)).duration + codec.decode(str(second)).duration
    assert abs(plain.duration_ms / 1000 - (parts + 1.0 + 0.8)) < 0.3  # the pause and the lead-in/out silence
    assert abs((chimed.duration_ms - plain.duration_ms) / 1000 - 2 * (3 * 0.55 + 0.5)) < 0.3  # two chimes
    lufs, peak = ebur128(str(out / chimed.mp3_path))
    assert abs(lufs + 16) <= 1 and peak <= -1.5
    again = join([(str(first), True), (str(second), True)], str(out), pause_ms=1000)
    assert again.cached and again.content_hash == chimed.content_hash
    with pytest.raises(ValueError):
        join([], str(out))


def test_each_rendition_is_spoken_with_its_own_espeak_defaults(tmp_path, monkeypatch):
    """The loudspeaker MP3 and the phone WAV each get the voice and speed chosen for them
    (audio.spec.ESPEAK_DEFAULTS); one synthesis when they agree, and the content hash follows them."""
    from audio import spec as spec_module

    heard = []
    original = EspeakEngine.synthesize
    monkeypatch.setattr(EspeakEngine, "synthesize",
                        lambda self, text: heard.append((self.voice, self.rate)) or original(self, text))
    same = {"loudspeaker": {"voice": "vi", "rate": 140}, "phone": {"voice": "vi", "rate": 140}}
    monkeypatch.setattr(spec_module, "ESPEAK_DEFAULTS", same)
    text = "Họp dân lúc 8h."
    before = RenderSpec(text=text).content_hash()
    render(RenderSpec(text=text), tmp_path)
    assert heard == [("vi", 140)]

    heard.clear()
    monkeypatch.setattr(spec_module, "ESPEAK_DEFAULTS", {"loudspeaker": {"voice": "vi+f3", "rate": 120},
                                                         "phone": {"voice": "vi", "rate": 140}})
    changed = RenderSpec(text=text)
    assert changed.content_hash() != before  # new defaults: the cached files are not reused
    assert changed.voice() == "vi+f3"
    r = render(changed, tmp_path)
    assert not r.cached and sorted(heard) == [("vi", 140), ("vi+f3", 120)]
    # Options given explicitly win over both renditions' defaults.
    heard.clear()
    render(RenderSpec(text=text, engine_options={"voice": "vi+m3", "rate": 130}), tmp_path)
    assert heard == [("vi+m3", 130)]


def test_export_keeps_under_the_ceiling_when_the_rounds_cannot_meet_both(tmp_path, monkeypatch):
    """The ceiling is a limit, the loudness a target: when the correcting round gives up (here the
    limiter lets everything through and only one round is allowed), gain alone brings the peak under."""
    from audio import compose, loudness

    rate = 44100
    t = np.arange(rate * 2) / rate
    signal = np.sin(2 * np.pi * 220 * t) * 0.05
    burst = (t % 0.2) < 0.02
    signal[burst] = np.sin(2 * np.pi * 1000 * t[burst]) * 0.9  # loud bursts, far above the rest
    monkeypatch.setattr(loudness, "limit", lambda samples, rate, ceiling_db, **kw: samples)
    monkeypatch.setattr(compose, "EXPORT_ROUNDS", 1)
    result = compose._export(signal, rate, str(tmp_path / "out.mp3"), codec.MP3_ARGS, Layout(target_lufs=-10.0))
    lufs, peak = measure(codec.decode(str(tmp_path / "out.mp3"), rate=rate).samples, rate)
    assert result["dbtp"] <= -1.5 and peak <= -1.5, (result, peak)
    assert result["dbtp"] == round(peak, 2)
