"""The one sample type every data source yields (synthetic renderer and real datasets)."""

from dataclasses import dataclass

import numpy as np

from crossinfonet_ros.camera import Intrinsics


@dataclass
class Sample:
    """One depth frame (or a patch of one) with its ground truth.

    ``intrinsics`` describe ``depth_mm`` itself: a patch cut from a larger frame, or rendered at
    reduced resolution, carries intrinsics shifted and scaled to match, so the codec crops it
    exactly as it would crop the full frame.
    """

    depth_mm: np.ndarray  # (H, W) float32 depth in mm, 0 where the sensor has no reading
    joints_mm: np.ndarray  # (A, 3) float64 joint positions, camera optical frame, mm
    intrinsics: Intrinsics  # pinhole model of depth_mm
    center_mm: np.ndarray  # (3,) float64 crop centre, camera frame, mm
    cube_mm: float  # side of the cubic crop volume, mm
    layout: str  # joint layout name (crossinfonet_ros.layouts), e.g. 'hands2017'
    name: str = ''  # where it came from (file name, or 'synth/<seed>/<index>')
    side: str = 'right'  # the hand's side, 'right' or 'left' (the real datasets: right hands)
    has_hand: bool = True  # False: a scene without a hand (``joints_mm`` are not in view)
