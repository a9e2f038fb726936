"""Hand or not: whether the crop the pipeline kept holds a hand (ROS-free).

The pipeline's winner is the most hand-like candidate, and there always is one when anything
lies in the depth band; this gate asks the hand classifier
(:mod:`crossinfonet_ros.hand_classifier`, its own small network, apart from the pose weights)
and turns a crop below the bar into ``detected: false``.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from crossinfonet_ros.codec import Crop
from crossinfonet_ros.hand_classifier import HandClassifier, load_classifier


@dataclass(frozen=True, eq=False)
class HandGate:
    """The classifier and its bar; without a classifier (the default) every crop passes."""

    classifier: Optional[HandClassifier] = None
    threshold: float = 0.0  # P(hand) at least; 0 = the classifier file's calibrated bar

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f'hand threshold must be in [0, 1) (0 = the classifier\'s '
                             f'calibrated bar), got {self.threshold}')

    @property
    def bar(self) -> float:
        """The probability bar in use (0 without a classifier)."""
        if self.classifier is None:
            return 0.0
        return self.threshold or self.classifier.threshold

    def check(self, crop: Crop) -> Tuple[float, str]:
        """P(hand) of a crop (nan without a classifier) and why it is not a hand ('' when it
        is).

        :param crop: the codec's crop, as the pose network sees it
        """
        probability = self.probability(crop.depth)
        if self.classifier is None or probability >= self.bar:
            return probability, ''
        return probability, f'not a hand (score {probability:.2f} < {self.bar:.2f})'

    def probability(self, crop_depth: np.ndarray) -> float:
        """P(hand) of a crop; nan without a classifier."""
        if self.classifier is None:
            return float('nan')
        return float(self.classifier.probability(crop_depth))


def gate_from_setting(setting: str, threshold: float, shipped: Optional[Path],
                      cube_mm: float) -> HandGate:
    """The gate a node parameter names: a classifier file, '' (the shipped one) or 'none'.

    :param setting: the ``hand_classifier`` parameter
    :param threshold: the ``hand_threshold`` parameter (0 = the file's calibrated bar)
    :param shipped: the shipped classifier file, None when not installed
    :param cube_mm: the pipeline's crop cube, mm (the classifier's must match)
    :raises ValueError: no such file, a bad file, or one trained on another cube
    """
    if setting == 'none':
        return HandGate()
    path = Path(setting) if setting else shipped
    if path is None:
        raise ValueError("no hand classifier: the shipped weights/hand_or_not.safetensors is "
                         "not installed; pass hand_classifier:=<file> or 'none'")
    classifier = load_classifier(path)
    if abs(classifier.cube_mm - cube_mm) > 0.5:
        raise ValueError(f'hand classifier {path} was trained on {classifier.cube_mm:g} mm '
                         f'crops; the pipeline cuts {cube_mm:g} mm (cube_size)')
    return HandGate(classifier, threshold)
