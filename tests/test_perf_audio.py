"""True peak oversampled only where it can matter (audio.loudness): the same values as
oversampling everything, wherever they reach the level asked about."""
import numpy as np
import pytest

from audio import loudness


def bursty(seed, n):
    """Quiet noise with bursts of alternating near-full-scale samples (inter-sample overs)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 0.05
    for k in rng.integers(0, n - 8, 30):
        x[k:k + 8] = [0.9, -0.95, 0.97, -0.9, 0.8, -0.99, 0.7, -0.6]
    return x


@pytest.mark.parametrize("seed,n", [(1, 2_000), (2, 44_100), (3, 300_000)])
def test_selective_oversampling_matches_the_full_one_above_the_floor(seed, n):
    x = bursty(seed, n)
    full = loudness._oversample(x.astype(np.float32))
    for floor in (0.3, 0.6, 0.9, float(np.abs(x).max())):
        got = loudness._oversampled_peaks(x, floor=floor)
        above = full >= floor
        assert above.any()
        np.testing.assert_allclose(got[above], full[above], atol=1e-6)
        assert (got[~above] < floor + 1e-6).all()  # below the floor it stays below (the limiter leaves it)
    assert loudness.true_peak(x) == pytest.approx(20 * np.log10(full.max()), abs=1e-5)
    assert loudness.true_peak(x) > 20 * np.log10(np.abs(x).max())  # the overs were found


def test_the_limiter_gives_what_it_gave_with_everything_oversampled(monkeypatch):
    x = bursty(4, 100_000) * 1.5
    limited = loudness.limit(x, 44100, -2.0)
    assert loudness.true_peak(x) > 1.0 and loudness.true_peak(limited) <= -2.0 + 0.05
    monkeypatch.setattr(loudness, "_oversampled_peaks", lambda samples, floor=0.0: loudness._oversample(
        np.asarray(samples, dtype=np.float32)))
    np.testing.assert_allclose(limited, loudness.limit(x, 44100, -2.0), atol=1e-7)
