"""Benchmark: the offline audio pipeline and its cache, against the bare engine call.

    python bench/audio_pipeline.py [--runs 5] [--quick]

Baseline (measured in the same run): the bare espeak-ng call, text in, WAV bytes out.
Measured against it, for a hotline prompt and a loudspeaker announcement:
- pipeline: `audio.render` with nothing cached (verbalize, synthesize, trim, chime, the message
  twice, loudness normalization with a true-peak limiter, MP3 and 8 kHz WAV exports, each
  decoded and measured again); its real-time factor is seconds of work per second of audio;
- cache hit: `audio.render` of the same spec again (hash the spec, find the stored rendition).
Medians of `--runs` runs; absolute times beside the ratios. `--quick`: 2 runs. Ends with
`RATIO audio_rtf <the announcement's real-time factor>`, `RATIO audio_rtf_prompt <the prompt's>`
and `RATIO audio_cache_hit <a cache hit ÷ the bare engine call, the announcement>`.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import audio  # noqa: E402
from bench.common import result  # noqa: E402
from audio import codec  # noqa: E402

CASES = {
    "prompt": ("Xin chào bà con. Đây là đường dây nóng của UBND phường. Bấm phím 1 để nghe lại, "
               "phím 2 để phản ánh, phím 0 để gặp cán bộ trực.", audio.PLAIN),
    "announcement": ("UBND xã thông báo: từ 7h30 ngày 14/8/2024, tiêm phòng dại cho chó mèo tại nhà văn hóa "
                     "thôn 3. Mức phí 50.000đ/con. Hộ nghèo được miễn phí. Đề nghị bà con đưa vật nuôi đến "
                     "đúng giờ. Mọi thắc mắc liên hệ 0912 345 678.", audio.LOUDSPEAKER),
}


def timed(fn, runs):
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 runs")
    args = parser.parse_args()
    if args.quick:
        args.runs = 2

    engine = audio.get_engine("espeak")
    print(f"espeak-ng backend: {engine.backend}; ffmpeg: {codec.ffmpeg_path()}; runs: {args.runs} (medians)\n")
    header = ("| case | bare engine call | pipeline, nothing cached | pipeline ÷ engine | real-time factor "
              "| cache hit | cache hit ÷ engine |")
    print(header)
    print("|---|---|---|---|---|---|---|")
    ratios = {}
    for name, (text, layout) in CASES.items():
        spoken = audio.verbalize(text)
        engine_s, speech = timed(lambda: engine.synthesize(spoken), args.runs)
        speech_s = codec.decode(speech.audio).duration

        def cold():
            with tempfile.TemporaryDirectory() as tmp:
                return audio.render(audio.RenderSpec(text=text, layout=layout), tmp)

        pipeline_s, rendition = timed(cold, args.runs)
        output_s = rendition.duration_ms / 1000
        with tempfile.TemporaryDirectory() as warm:
            audio.render(audio.RenderSpec(text=text, layout=layout), warm)
            hit_s, hit = timed(lambda: audio.render(audio.RenderSpec(text=text, layout=layout), warm), args.runs)
            assert hit.cached
        print(f"| {name} ({speech_s:.1f} s speech → {output_s:.1f} s file) | {engine_s * 1e3:.1f} ms "
              f"| {pipeline_s * 1e3:.0f} ms | {pipeline_s / engine_s:.1f}× | {pipeline_s / output_s:.3f} "
              f"| {hit_s * 1e3:.2f} ms | {hit_s / engine_s:.3f}× |")
        ratios[name] = (pipeline_s / output_s, hit_s / engine_s)
    print()
    result("audio_rtf", ratios["announcement"][0])
    result("audio_rtf_prompt", ratios["prompt"][0])
    result("audio_cache_hit", ratios["announcement"][1])


if __name__ == "__main__":
    main()
