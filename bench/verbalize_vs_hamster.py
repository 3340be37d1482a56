"""Evaluate g2p-hamster's text normalization against our verbalization table.

    pip install g2p-hamster==0.2.8     # not a project dependency: only this evaluation uses it
    python bench/verbalize_vs_hamster.py [--show N]

Both outputs are compared as lower-case words without punctuation, so only what a listener
hears counts. Prints how many table rows each gets right, a breakdown by section of the
table, the rows hamster misses, and the time per row of each.
"""
import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio import verbalize  # noqa: E402
from tests.verbalize_cases import CASES  # noqa: E402


def words(text):
    return re.findall(r"[^\W_]+", text.lower())


def lenient(text):
    """Forgive choices where Vietnamese has two right answers: "lẻ" for "linh" (105), "bốn" for
    "tư" after "mươi" (24), "ký lô" for "ki lô"."""
    text = text.lower().replace(" lẻ ", " linh ").replace("ký lô", "ki lô")
    return re.sub(r"mươi bốn\b", "mươi tư", text)


def sections():
    """Section names from the comments in tests/verbalize_cases.py, in table order."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "verbalize_cases.py")
    names, current = [], None
    for line in open(path, encoding="utf-8"):
        stripped = line.strip()
        if stripped.startswith("# ") and stripped[2:3].isupper():
            current = stripped[2:]
        elif stripped.startswith('("') and current:
            names.append(current)
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=25, help="how many of hamster's misses to print")
    args = parser.parse_args()
    try:
        from g2p_hamster.t0.pipeline import normalize
    except ImportError:
        sys.exit("g2p-hamster is not installed: pip install g2p-hamster==0.2.8")

    def hamster(text):
        return normalize(text)["read_string"]

    results = {}
    for name, fn in (("ours", verbalize), ("g2p-hamster", hamster)):
        fn(CASES[0][0])  # load dictionaries before timing
        started = time.perf_counter()
        outputs = [fn(written) for written, _ in CASES]
        elapsed = time.perf_counter() - started
        right = [words(out) == words(spoken) for out, (_, spoken) in zip(outputs, CASES)]
        forgiving = [words(lenient(out)) == words(lenient(spoken)) for out, (_, spoken) in zip(outputs, CASES)]
        results[name] = (outputs, right, elapsed)
        print(f"{name:12} {sum(right):3}/{len(CASES)} rows right ({sum(forgiving)} forgiving lẻ/linh, bốn/tư), "
              f"{elapsed / len(CASES) * 1e3:.2f} ms per row")

    print("\nby section (ours / hamster):")
    per_section = {}
    for section, ours_ok, ham_ok in zip(sections(), results["ours"][1], results["g2p-hamster"][1]):
        counts = per_section.setdefault(section, [0, 0, 0])
        counts[0] += ours_ok
        counts[1] += ham_ok
        counts[2] += 1
    for section, (ours_ok, ham_ok, total) in per_section.items():
        print(f"  {section:55} {ours_ok:2}/{total:<2}  {ham_ok:2}/{total}")

    print(f"\nfirst {args.show} rows g2p-hamster gets wrong:")
    outputs, right, _ = results["g2p-hamster"]
    shown = 0
    for (written, spoken), out, ok in zip(CASES, outputs, right):
        if not ok and shown < args.show:
            print(f"  {written!r}\n    want {spoken}\n    got  {out}")
            shown += 1


if __name__ == "__main__":
    main()
