"""A digest of rendered samples that another CPU's last-bit maths does not change."""

import hashlib

import numpy as np


def render_digest(samples) -> str:
    """First 16 hex digits of a sha256 over the samples' depth (whole millimetres, checked),
    joints and crop centre (rounded to 1e-6 mm)."""
    digest = hashlib.sha256()
    for sample in samples:
        assert np.array_equal(sample.depth_mm, np.round(sample.depth_mm))
        digest.update(np.ascontiguousarray(sample.depth_mm, dtype=np.float32).tobytes())
        for array in (sample.joints_mm, sample.center_mm):
            digest.update(np.round(np.asarray(array, dtype=np.float64), 6).tobytes())
    return digest.hexdigest()[:16]
