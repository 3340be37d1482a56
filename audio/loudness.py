"""Loudness: measure (ITU-R BS.1770 / EBU R128) and normalize with a true-peak limiter.

Integrated loudness comes from pyloudnorm; true peak is the sample peak of the signal
oversampled four times, as BS.1770 annex 2 prescribes. Normalizing is a gain to the target
and a look-ahead limiter for the peaks, repeated until the measured loudness is on target.
"""
import math

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d
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


def _oversampled_peaks(samples):
    """Per-sample peak magnitude of the 4× oversampled signal (one value per input sample)."""
    # float32 halves the work; its 24-bit precision is far below what a true-peak meter resolves.
    up = resample_poly(np.asarray(samples, dtype=np.float32), 4, 1)
    return np.abs(up[: len(samples) * 4]).reshape(-1, 4).max(axis=1)


def true_peak(samples):
    """True peak in dBTP."""
    if len(samples) == 0:
        return -math.inf
    peak = float(_oversampled_peaks(samples).max())
    return 20 * math.log10(peak) if peak > 0 else -math.inf


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
    peaks = _oversampled_peaks(samples)
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
