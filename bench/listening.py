"""Listening test: how well an offline recognizer (viet-asr) understands each espeak rendition.

    python bench/listening.py [--quick] [--sweep] [--voices vi,vi+f3 --rates 120,140]

Renders a fixed set of commune announcements with `audio.render` (verbalize, espeak-ng, trim,
loudness, exports) and transcribes both renditions it makes: the loudspeaker MP3 (44.1 kHz)
and the phone WAV (8 kHz µ-law, 300-3400 Hz). The baseline, in the same run, is bare espeak-ng
(voice `vi`, its own speed) on the raw text, as an engine without our front end would read it.
Every transcript is scored against the spoken form of the text (`audio.verbalize`) by character
error rate (CER: edit distance over reference length, lower case, letters and spaces only).

Without --sweep only the defaults of each rendition are measured; --sweep also tries each
voice × rate given, which is how the defaults (audio.spec.ESPEAK_DEFAULTS) were chosen. Layout:
the message once, no chime (a chime or the repeat would only add the same error twice).
Ends with `RATIO listening_<rendition> <CER of the default ÷ CER of bare espeak>` lines.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio import Layout, RenderSpec, render, transcribe, verbalize  # noqa: E402

ANNOUNCEMENTS = [
    "Từ 7h30 ngày 15/9, Trạm Y tế xã tiêm vắc xin sởi cho trẻ từ 9 đến 18 tháng tuổi. "
    "Đề nghị phụ huynh mang theo sổ tiêm.",
    "Cảnh báo lừa đảo: đối tượng giả danh Công an gọi điện yêu cầu chuyển tiền. "
    "Bà con không chuyển tiền, báo ngay 113.",
    "NHCSXH giải ngân vốn vay hộ nghèo tại nhà văn hóa thôn 3, mức vay tối đa 100 triệu đồng mỗi hộ.",
    "Thôn Tân Lợi phát hiện ổ dịch cúm gia cầm. Bà con không mua bán, giết mổ gà vịt ốm chết.",
    "Mời đại diện các hộ dự họp tại hội trường UBND xã lúc 14h chiều thứ 5 để bàn việc làm đường.",
    "Do mưa lớn, nước sông dâng cao. Bà con khu phố 5 không đi qua ngầm tràn, trông giữ trẻ nhỏ.",
    "Cụ ông Nguyễn Văn Tư, 82 tuổi, đi lạc từ sáng hôm qua. Ai thấy xin báo trưởng thôn.",
    "Lịch thu gom rác thay đổi: xe rác đến vào sáng thứ 3 và thứ 6 hằng tuần, bà con để rác đúng giờ.",
    "Tiêm phòng dại cho chó mèo miễn phí vào ngày 20/8 tại sân nhà văn hóa thôn. Mỗi hộ mang theo vật nuôi.",
    "Hộ nào chưa nhận tiền hỗ trợ tháng 10 xin liên hệ cán bộ chính sách xã hội trong giờ hành chính.",
    "Từ ngày 1/10, bà con nộp hồ sơ cấp thẻ BHYT cho người cao tuổi tại bộ phận một cửa của xã.",
    "Cảnh báo: có người gọi điện tự xưng cán bộ bảo hiểm, đề nghị cung cấp mã OTP. Tuyệt đối không cung cấp.",
    "Đàn lợn của gia đình ông Ba ở thôn 2 có dấu hiệu dịch tả lợn châu Phi. Bà con không bán chạy lợn ốm.",
    "Sáng chủ nhật này, đoàn thanh niên ra quân dọn vệ sinh đường làng, mỗi hộ cử một người tham gia.",
    "Tổ tiết kiệm và vay vốn thôn 4 họp lúc 8h sáng thứ 7 tại nhà trưởng thôn để bình xét cho vay.",
    "Bão số 3 có thể đổ bộ vào đêm mai. Bà con chằng chống nhà cửa, thu hoạch lúa chín, không ra khơi.",
    "Trạm Y tế xã khám sức khỏe miễn phí cho người từ 60 tuổi trở lên vào ngày 25/11.",
    "Đề nghị các hộ kinh doanh không lấn chiếm lòng đường, vỉa hè. Từ tuần sau công an xã sẽ kiểm tra.",
    "Cháu Lê Thị Hoa, 7 tuổi, mặc áo đỏ, đi lạc ở chợ xã chiều nay. Ai gặp xin báo công an xã.",
    "Lịch cắt điện: thôn 1 và thôn 3 mất điện từ 7h đến 16h ngày 12/12 để sửa đường dây.",
]
QUICK = 5
VOICES = ("vi", "vi+f3", "vi+m3", "vi+f2", "vi+m1")
RATES = (110, 120, 130, 140, 150)
RENDITIONS = ("loudspeaker", "phone")
LAYOUT = Layout(chime=False, repeat=1)


def normalized(text):
    """Lower case, letters and single spaces only: what a listener hears, not how it is punctuated."""
    return " ".join(re.findall(r"[^\W\d_]+", text.lower()))


def edit_distance(a, b):
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(pairs):
    """Character error rate over (reference, hypothesis) pairs, pooled."""
    errors = sum(edit_distance(normalized(ref), normalized(hyp)) for ref, hyp in pairs)
    return errors / sum(len(normalized(ref)) for ref, _ in pairs)


def bare(texts, directory):
    """CER of bare espeak-ng (voice vi, its default speed) on the raw text."""
    program = shutil.which("espeak-ng")
    if not program:
        sys.exit("bare espeak-ng baseline needs the espeak-ng program (apt-get install espeak-ng)")
    pairs = []
    for i, text in enumerate(texts):
        path = os.path.join(directory, f"bare-{i}.wav")
        subprocess.run([program, "-v", "vi", "-w", path, text], check=True)
        pairs.append((verbalize(text), transcribe(path)))
    return cer(pairs)


def renditions(texts, directory, options):
    """{rendition: CER} for texts rendered with espeak `options` ({} = the defaults)."""
    pairs = {name: [] for name in RENDITIONS}
    for text in texts:
        spec = RenderSpec(text=text, engine="espeak", engine_options=dict(options), layout=LAYOUT)
        rendition = render(spec, directory)
        reference = verbalize(text)
        pairs["loudspeaker"].append((reference, transcribe(os.path.join(directory, rendition.mp3_path))))
        pairs["phone"].append((reference, transcribe(os.path.join(directory, rendition.phone_path))))
    return {name: cer(p) for name, p in pairs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK} announcements only")
    parser.add_argument("--sweep", action="store_true", help="also try every voice × rate")
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    args = parser.parse_args()
    texts = ANNOUNCEMENTS[:QUICK] if args.quick else ANNOUNCEMENTS
    started = time.perf_counter()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="listening-") as directory:
        baseline = bare(texts, directory)
        print(f"{len(texts)} announcements, {sum(len(normalized(verbalize(t))) for t in texts)} characters spoken; "
              f"load average {load:.2f} at start")
        print(f"bare espeak-ng (vi, default speed, raw text): CER {baseline:.1%}")
        defaults = renditions(texts, directory, {})
        for name in RENDITIONS:
            chosen = RenderSpec(text="x", engine="espeak").rendition_options(name)
            print(f"default {name:11} ({chosen['voice']} at {chosen['rate']} wpm): CER {defaults[name]:.1%}")
        if args.sweep:
            print(f"\n{'voice':8} {'wpm':>4} " + " ".join(f"{n:>11}" for n in RENDITIONS))
            for voice in args.voices.split(","):
                for rate in map(int, args.rates.split(",")):
                    scores = renditions(texts, directory, {"voice": voice, "rate": rate})
                    print(f"{voice:8} {rate:4} " + " ".join(f"{scores[n]:11.1%}" for n in RENDITIONS), flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at the end")
    for name in RENDITIONS:
        print(f"RATIO listening_{name} {defaults[name] / baseline:.3f}")


if __name__ == "__main__":
    main()
