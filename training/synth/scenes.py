"""Named evaluation scenes: each a set of :class:`~training.synth.scene.SynthConfig` overrides.

``python -m training.evaluate --scene NAME`` renders its frames with these; a new condition is
one more row (fields another part of the renderer adds, e.g. a grasped object, included).
"""

from dataclasses import replace
from typing import Dict

from training.synth.scene import SynthConfig

SCENES: Dict[str, dict] = {
    'third_person': {},  # the renderer's defaults: a camera facing the user
    'egocentric': {'viewpoint': 'egocentric'},  # head or chest camera
    'overhead': {'viewpoint': 'overhead'},  # camera above a table, looking down
    'left': {'left_hand_prob': 1.0},  # third person, left hands only
    'grasp': {'grasp_prob': 1.0},  # third person, every hand holding an object (grasp.py)
    'mixed': {'viewpoint_mix': (('third_person', 0.5), ('egocentric', 0.3), ('overhead', 0.2)),
              'left_hand_prob': 0.3},
}


def scene_config(name: str, base: SynthConfig) -> SynthConfig:
    """``base`` with the overrides of scene ``name``.

    :param name: a key of :data:`SCENES`
    :param base: the distribution to start from (cube size, camera, ...)
    :raises ValueError: an unknown name
    """
    if name not in SCENES:
        raise ValueError(f'unknown scene {name!r}; valid: {", ".join(SCENES)}')
    return replace(base, **SCENES[name])
