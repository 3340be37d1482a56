"""Loudness: measure (ITU-R BS.1770 / EBU R128) and normalize with a true-peak limiter.

Integrated loudness comes from pyloudnorm; true peak is the sample peak of the signal
oversampled four times, as BS.1770 annex 2 prescribes, computed only around the samples loud
enough to reach the level asked about (the rest cannot, by the filter's own bound). Normalizing is a gain to the target
and a look-ahead limiter for the peaks, repeated until the measured loudness is on target.
"""
import functools
import math

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

# Integrated loudness is undefined for less than one 400 ms gating block.
MIN_SECONDS = 0.4
SILENCE = -70.0  # LUFS reported for silence (the absolute gate of BS.1770)


def integrated_loudness(samples, rate):
    """Integrated loudness in LUFS (SILENCE when the signal is silent or too short)."""
    import pyloudnorm

    samples = np.asarray(samples, dtype=np.float64)
    if len(samples) < MIN_SECONDS * rate or not np.any(samples):
        return SILENCE
    value = pyloudnorm.Meter(rate).integrated_loudness(samples)
    return SILENCE if not math.isfinite(value) else max(float(value), SILENCE)


UP = 4  # oversampling for true peak (BS.1770 annex 2)
_REACH = 12  # input samples either side that reach one output sample through resample_poly's filter
_GAP = 1024  # candidate runs closer than this are oversampled together (fewer, longer calls)
_DENSE = 0.2  # when more than this share of the signal is near the floor, all of it is oversampled


@functools.cache
def _gain_bound():
    """The most the 4× interpolation filter can make of a signal bounded by 1 (the largest sum of
    |taps| over its four phases): no oversampled value exceeds this times the nearby sample peak."""
    impulse = np.zeros(8 * _REACH + 1, dtype=np.float32)
    impulse[4 * _REACH] = 1.0
    response = resample_poly(impulse, UP, 1)
    return float(max(np.abs(response[phase::UP]).sum() for phase in range(UP)))


def _oversampled_peaks(samples, floor=0.0):
    """Per-sample peak magnitude of the 4× oversampled signal (one value per input sample).

    Only where it could reach `floor` (linear): elsewhere the sample's own magnitude stands in,
    which is below `floor` too. Oversampling only there (a speech signal's loud moments) gives
    the same values above `floor` for a fraction of the work."""
    # float32 halves the work; its 24-bit precision is far below what a true-peak meter resolves.
    samples = np.asarray(samples, dtype=np.float32)
    magnitude = np.abs(samples)
    if floor <= 0:
        return _oversample(samples)
    near = maximum_filter1d(magnitude, size=2 * _REACH + 1, mode="constant") * _gain_bound() >= floor
    if not near.any():
        return magnitude
    if near.mean() > _DENSE:
        return _oversample(samples)
    peaks = magnitude.copy()
    for start, end in _runs(near):
        lo, hi = max(0, start - _REACH), min(len(samples), end + _REACH)
        peaks[start:end] = _oversample(samples[lo:hi])[start - lo:end - lo]
    return peaks


def _oversample(samples):
    up = resample_poly(samples, UP, 1)
    return np.abs(up[: len(samples) * UP]).reshape(-1, UP).max(axis=1)


def _runs(mask):
    """(start, end) of the runs of True in `mask`, runs closer than _GAP merged."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    starts, ends = edges[::2], edges[1::2]
    keep = np.concatenate(([True], starts[1:] - ends[:-1] > _GAP))
    return zip(starts[keep], np.concatenate((ends[:-1][keep[1:]], ends[-1:])))


def true_peak(samples):
    """True peak in dBTP."""
    if len(samples) == 0:
        return -math.inf
    sample_peak = float(np.max(np.abs(samples)))
    if sample_peak == 0:
        return -math.inf
    # The true peak is at least the sample peak: only what could exceed it is oversampled.
    peak = float(_oversampled_peaks(samples, floor=sample_peak).max())
    return 20 * math.log10(peak)


def measure(samples, rate):
    """(integrated loudness LUFS, true peak dBTP)."""
    return integrated_loudness(samples, rate), true_peak(samples)


def limit(samples, rate, ceiling_db, *, window_ms=5.0):
    """A look-ahead peak limiter: no oversampled peak above `ceiling_db`, gain changes spread over ~`window_ms`.

    The needed gain per sample is min-filtered over the window (so the gain is already down when a
    peak arrives) and then averaged over the same window, which can never exceed the minimum it
    was built from at the peak itself: peaks end up at or under the ceiling, without clicks."""
    samples = np.asarray(samples, dtype=np.float64)
    if len(samples) == 0:
        return samples
    ceiling = 10 ** (ceiling_db / 20)
    peaks = _oversampled_peaks(samples, floor=ceiling)
    gain = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
    if gain.min() >= 1.0:
        return samples
    width = max(3, int(rate * window_ms / 1000) | 1)
    gain = minimum_filter1d(gain, size=width, mode="nearest")
    gain = uniform_filter1d(gain, size=width, mode="nearest")
    return samples * gain


def normalize(samples, rate, *, target_lufs=-16.0, ceiling_dbtp=-1.5, tolerance=0.2, rounds=6):
    """`samples` at `target_lufs` integrated, true peak under `ceiling_dbtp`; silence stays silence."""
    samples = np.asarray(samples, dtype=np.float64)
    loudness = integrated_loudness(samples, rate)
    if loudness <= SILENCE:
        return samples
    for _ in range(rounds):
        samples = limit(samples * 10 ** ((target_lufs - loudness) / 20), rate, ceiling_dbtp)
        loudness = integrated_loudness(samples, rate)
        if abs(loudness - target_lufs) <= tolerance:
            break
    return samples
