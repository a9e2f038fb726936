"""Depth-sensor model applied to a clean rendered depth image (mm, 0 = no surface).

Effects, in order: the stereo occlusion shadow (an invalid band left of near objects, where
the second imager cannot see the background), depth noise growing with the square of the
distance (spatially white plus a smooth, correlated part), dropped and mixed ("flying") pixels
at depth discontinuities, dropped pixels where the surface is seen at a grazing angle, small
random holes and isolated dropouts, the working range, and quantisation to 1 mm.

Noise level: for an active stereo camera the depth RMS error is
``z^2 * subpixel / (focal_px * baseline)`` (Grunnet-Jepsen, Sweetser, Woodfill et al., Intel
RealSense D400 white papers, "Tuning depth cameras for best performance" and "Subpixel
linearity improvement", the depth-resolution equation). The D435 has a 50 mm baseline and a
typical subpixel RMS of 0.05-0.1 px; with the 640x480 focal length of 383 px that gives
0.8-1.6 mm at 0.5 m and 2.6-5.2 mm at 1 m (0.3-0.5 % of the distance at 1 m, within the
datasheet's "< 2 % at 2 m").

Effects with a size in pixels are given in native sensor pixels and scaled to the rendered
resolution (crop-resolution renders have fewer pixels than the sensor).
"""

from dataclasses import dataclass
from typing import Tuple

import cv2
import numpy as np

from crossinfonet_ros.camera import Intrinsics


@dataclass(frozen=True)
class SensorConfig:
    """Randomised sensor effects; every range is sampled uniformly per frame."""

    enabled: bool = True  # False returns the clean render (only range gate and quantisation)
    baseline_mm: float = 50.0  # stereo baseline of the noise model (RealSense D435: 50 mm)
    subpixel_range: Tuple[float, float] = (0.05, 0.12)  # disparity RMS error, pixels
    smooth_share: float = 0.6  # share of the noise variance that is spatially smooth
    smooth_cell_px: float = 12.0  # correlation length of the smooth part, native pixels
    shadow_prob: float = 0.7  # probability that the occlusion shadow is rendered
    shadow_baseline_mm: Tuple[float, float] = (20.0, 55.0)  # baseline that casts the shadow
    edge_jump_mm: float = 12.0  # depth step that counts as a discontinuity
    edge_drop_range: Tuple[float, float] = (0.2, 0.7)  # drop probability of an edge pixel
    flying_prob: float = 0.15  # probability that a kept edge pixel mixes both depths
    grazing_cos: Tuple[float, float] = (0.1, 0.3)  # |cos| of ray vs normal: always / never drop
    holes_per_frame: float = 2.0  # mean number of small holes on surfaces (Poisson)
    hole_radius_px: Tuple[float, float] = (0.7, 3.0)  # hole radius, native pixels
    dropout_range: Tuple[float, float] = (0.0, 0.004)  # share of isolated dropped pixels
    min_range_mm: float = 105.0  # nearer readings are invalid (D435 minimum Z at 640x480)
    max_range_mm: float = 4000.0  # farther readings are invalid
    quantum_mm: float = 1.0  # depth quantisation step (16-bit mm images)


def noise_sigma_mm(depth_mm: np.ndarray, subpixel: float, focal_px: float,
                   baseline_mm: float) -> np.ndarray:
    """Depth RMS error of a stereo camera at each depth: ``z^2 * subpixel / (f * B)``.

    :param depth_mm: depths, mm
    :param subpixel: disparity RMS error, pixels
    :param focal_px: focal length of the sensor, pixels
    :param baseline_mm: stereo baseline, mm
    """
    depth_mm = np.asarray(depth_mm, dtype=np.float64)
    return depth_mm * depth_mm * subpixel / (focal_px * baseline_mm)


def occlusion_shadow(depth: np.ndarray, focal_px: float, baseline_mm: float) -> np.ndarray:
    """Pixels the second imager (to the right, +x) cannot see: True where shadowed.

    A pixel at column u with disparity d(u) = f B / z is hidden if some pixel u' > u on its row
    has d(u') - u' > d(u) - u (the nearer surface covers it in the other image).

    :param depth: (H, W) depth, mm, 0 = none
    :param focal_px: focal length of ``depth``'s pixels
    :param baseline_mm: baseline, mm
    """
    height, width = depth.shape
    valid = depth > 0
    disparity = np.where(valid, focal_px * baseline_mm / np.where(valid, depth, 1.0), 0.0)
    key = disparity - np.arange(width)[None, :]
    right_max = np.maximum.accumulate(key[:, ::-1], axis=1)[:, ::-1]
    beyond = np.full((height, width), -np.inf)
    beyond[:, :-1] = right_max[:, 1:]
    return valid & (beyond > key + 0.5)


def discontinuities(depth: np.ndarray, jump_mm: float) -> np.ndarray:
    """Surface pixels next to a depth step larger than ``jump_mm`` (or next to no surface).

    :param depth: (H, W) depth, mm, 0 = none
    :param jump_mm: step threshold, mm
    """
    edge = np.zeros(depth.shape, bool)
    horizontal = np.abs(depth[:, 1:] - depth[:, :-1]) > jump_mm
    vertical = np.abs(depth[1:, :] - depth[:-1, :]) > jump_mm
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    return edge & (depth > 0)


def grazing_cosine(depth: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """|cos| of the angle between each pixel's ray and the surface normal (1 where unknown).

    With r = ((u - cx)/fx, (v - cy)/fy, 1) and a = fx dz/du, b = fy dz/dv (central
    differences), the normal of the surface z(u, v) r is (-a, -b, a r_x + b r_y + z) and its dot
    product with r is z, so cos = z / (|n| |r|).

    :param depth: (H, W) depth, mm, 0 = none
    :param intrinsics: camera of ``depth``
    """
    height, width = depth.shape
    cosine = np.ones(depth.shape, np.float32)
    if height < 3 or width < 3:
        return cosine
    z = depth.astype(np.float32, copy=False)
    xs = ((np.arange(1, width - 1) - intrinsics.cx) / intrinsics.fx).astype(np.float32)
    ys = ((np.arange(1, height - 1) - intrinsics.cy) / intrinsics.fy).astype(np.float32)
    a = (z[1:-1, 2:] - z[1:-1, :-2]) * np.float32(0.5 * intrinsics.fx)
    b = (z[2:, 1:-1] - z[:-2, 1:-1]) * np.float32(0.5 * intrinsics.fy)
    centre = z[1:-1, 1:-1]
    third = a * xs[None, :] + b * ys[:, None] + centre
    ray_sq = xs[None, :] ** 2 + ys[:, None] ** 2 + np.float32(1.0)
    with np.errstate(invalid='ignore', divide='ignore'):
        inner = centre / np.sqrt((a * a + b * b + third * third) * ray_sq)
    cosine[1:-1, 1:-1] = np.where(centre > 0, inner, np.float32(1.0))
    return cosine


def _smooth_noise(shape: Tuple[int, int], cell_px: float, rng: np.random.Generator
                  ) -> np.ndarray:
    """Unit-variance noise correlated over about ``cell_px`` pixels."""
    height, width = shape
    cells = (max(2, int(np.ceil(width / cell_px)) + 1), max(2, int(np.ceil(height / cell_px)) + 1))
    coarse = rng.standard_normal((cells[1], cells[0])).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return smooth / 0.75  # bicubic upsampling of white noise keeps ~0.75 of its std


def apply_sensor(depth: np.ndarray, intrinsics: Intrinsics, native_focal_px: float,
                 rng: np.random.Generator, config: SensorConfig = SensorConfig()) -> np.ndarray:
    """Turn a clean render into a sensor-like depth image (float32 mm, 0 = no reading).

    :param depth: (H, W) clean depth, mm, 0 = no surface
    :param intrinsics: camera of ``depth`` (possibly a reduced-resolution window)
    :param native_focal_px: focal length of the real sensor, pixels (scales pixel-size effects)
    :param rng: random generator of this frame
    :param config: effect settings
    """
    clean = depth.astype(np.float32)
    out = clean.copy()
    if config.enabled:
        scale = intrinsics.fx / native_focal_px  # rendered pixels per native pixel
        surface = clean > 0
        if rng.random() < config.shadow_prob:
            baseline = rng.uniform(*config.shadow_baseline_mm)
            out[occlusion_shadow(clean, intrinsics.fx, baseline)] = 0.0
        subpixel = rng.uniform(*config.subpixel_range)
        sigma = clean * clean * np.float32(subpixel / (native_focal_px * config.baseline_mm))
        # White part: uniform with unit variance (cheaper than Gaussian, same spectrum).
        white = rng.random(out.shape, dtype=np.float32) - np.float32(0.5)
        noise = white * np.float32(np.sqrt(12.0 * (1.0 - config.smooth_share)))
        noise += _smooth_noise(out.shape, config.smooth_cell_px * scale, rng) * np.float32(
            np.sqrt(config.smooth_share))
        out += sigma * noise
        edge = discontinuities(clean, config.edge_jump_mm)
        edge_drop = rng.uniform(*config.edge_drop_range) * min(1.0, 1.5 * scale)
        # One uniform draw decides every per-pixel event: edge pixels drop (or fly) below
        # their thresholds; other pixels drop at grazing angles or as isolated dropouts.
        draw = rng.random(out.shape, dtype=np.float32)
        flying = edge & (draw >= edge_drop) & (draw < edge_drop + config.flying_prob)
        if np.any(flying):
            out[flying] = _mix_neighbours(clean, flying, rng)
        low, high = config.grazing_cos
        cosine = grazing_cosine(clean, intrinsics)
        drop_prob = np.clip((np.float32(high) - cosine) * np.float32(1.0 / (high - low)),
                            np.float32(rng.uniform(*config.dropout_range)), np.float32(1.0))
        drop = np.where(edge, draw < edge_drop, draw < drop_prob)
        out[drop | ~surface] = 0.0
        _punch_holes(out, surface, scale, rng, config)
    out[(out < config.min_range_mm) | (out > config.max_range_mm)] = 0.0
    if config.quantum_mm > 0:
        out = np.rint(out * np.float32(1.0 / config.quantum_mm)) * np.float32(config.quantum_mm)
    return out.astype(np.float32, copy=False)


def _mix_neighbours(clean: np.ndarray, where: np.ndarray, rng: np.random.Generator
                    ) -> np.ndarray:
    """Depths between a pixel and its farthest 4-neighbour (flying pixels at edges)."""
    padded = np.pad(clean, 1, mode='edge')
    rows, cols = np.nonzero(where)
    neighbours = np.stack([padded[rows, cols + 1], padded[rows + 2, cols + 1],
                           padded[rows + 1, cols], padded[rows + 1, cols + 2]])
    own = clean[rows, cols]
    far = np.max(np.where(neighbours > 0, neighbours, own), axis=0)
    return own + rng.random(len(own)) * (far - own)


def _punch_holes(out: np.ndarray, surface: np.ndarray, scale: float, rng: np.random.Generator,
                 config: SensorConfig) -> None:
    """Small round holes centred on surface pixels (a few tries per hole)."""
    count = rng.poisson(config.holes_per_frame)
    if count == 0:
        return
    height, width = out.shape
    rows = rng.integers(height, size=4 * count)
    cols = rng.integers(width, size=4 * count)
    radii = rng.uniform(*config.hole_radius_px, size=4 * count) * scale
    on_surface = np.flatnonzero(surface[rows, cols])[:count]
    if len(on_surface) == 0:
        return
    mask = np.zeros(out.shape, np.uint8)
    for pick in on_surface:
        cv2.circle(mask, (int(cols[pick]), int(rows[pick])), int(round(radii[pick])), 1, -1)
    out[mask.view(bool)] = 0.0
