"""One Euro filter: smooths noise at rest, follows fast motion, restarts safely."""

import numpy as np
import pytest

from crossinfonet_ros.one_euro import OneEuroFilter


def test_first_sample_passes_unchanged():
    value = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(OneEuroFilter()(value, 0.0), value)


def test_reduces_jitter_of_a_still_signal():
    rng = np.random.default_rng(0)
    noisy = 0.3 + 0.005 * rng.standard_normal((300, 21, 3))
    filt = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    out = np.array([filt(x, i / 30.0) for i, x in enumerate(noisy)])
    assert out[50:].std() < 0.4 * noisy[50:].std()
    assert abs(out[50:].mean() - 0.3) < 1e-3


def test_beta_reduces_lag_on_fast_motion():
    times = np.arange(60) / 30.0
    ramp = 1.0 * times  # 1 m/s
    lags = []
    for beta in (0.0, 5.0):
        filt = OneEuroFilter(min_cutoff=1.0, beta=beta)
        out = [filt(np.array([x]), t)[0] for x, t in zip(ramp, times)]
        lags.append(ramp[-1] - out[-1])
    assert lags[1] < 0.5 * lags[0]
    assert lags[0] > 0


def test_matches_the_closed_form_single_step():
    filt = OneEuroFilter(min_cutoff=2.0, beta=0.0, d_cutoff=1.0)
    filt(np.array([0.0]), 0.0)
    dt = 0.1
    tau = 1.0 / (2 * np.pi * 2.0)
    expected = 1.0 / (1.0 + tau / dt)
    assert filt(np.array([1.0]), dt)[0] == pytest.approx(expected)


@pytest.mark.parametrize('second_time', [0.0, -1.0])
def test_time_not_advancing_restarts_instead_of_dividing_by_zero(second_time):
    filt = OneEuroFilter()
    filt(np.array([0.0]), 0.0)
    out = filt(np.array([5.0]), second_time)
    assert out[0] == 5.0 and np.isfinite(out).all()


def test_reset_and_shape_change_restart():
    filt = OneEuroFilter()
    filt(np.zeros(3), 0.0)
    filt.reset()
    assert filt(np.ones(3), 0.1).tolist() == [1, 1, 1]
    assert filt(np.full(4, 2.0), 0.2).tolist() == [2, 2, 2, 2]


@pytest.mark.parametrize('kwargs', [dict(min_cutoff=0), dict(beta=-1),
                                    dict(d_cutoff=float('nan'))])
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        OneEuroFilter(**kwargs)
