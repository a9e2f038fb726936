"""Synthetic depth images of an articulated right hand (or its mirror image, a left hand:
``SynthConfig.left_hand_prob``) with ground-truth joints.

The project has no real dataset at hand: the shipped network trains on these renders and the
demo plays them into the node. Modules, from the hand outwards:

* :mod:`~training.synth.skeleton`: joint order (HANDS2017), anthropometric bone lengths, widths;
* :mod:`~training.synth.poses`: degrees of freedom, joint limits, natural poses, the sampler;
* :mod:`~training.synth.kinematics`: forward kinematics to the 21 joints (thumb CMC included);
* :mod:`~training.synth.shape`: the hand, thenar, palm and forearm volume as primitives;
* :mod:`~training.synth.placement`: forearm direction, roll, wrist angles, position;
* :mod:`~training.synth.viewpoints`: third-person, egocentric and overhead cameras, mixtures;
* :mod:`~training.synth.raster`: ray casting of primitives into depth (z-buffer);
* :mod:`~training.synth.sensor`: stereo-camera noise, shadows, dropouts, quantisation;
* :mod:`~training.synth.clutter`: arm, body, table, objects, wall;
* :mod:`~training.synth.grasp`: hands closed around held objects (``SynthConfig.grasp_prob``);
* :mod:`~training.synth.wear`, :mod:`~training.synth.occluder`: a watch or sleeve at the wrist,
  an object between camera and hand (``wrist_wear_prob``, ``occluder_prob``);
* :mod:`~training.synth.scene`: samples (:func:`render_crop` for training, :func:`render_frame`
  for full frames), one independent random stream per ``(seed, index)``;
* :mod:`~training.synth.motion`: smooth trajectories for streams (:func:`stream_frames`);
* :mod:`~training.synth.scenes`: the named scenes of ``training.evaluate --scene``;
* :mod:`~training.synth.joint_maps`: the joints in the NYU / ICVL / MSRA layouts;
* :mod:`~training.synth.writers`, ``python -m training.synth``: HANDS2017 folders and rosbag2;
* ``python -m training.synth.preview``: PNG grids for the docs (docs/training.md).
"""

from training.synth.joint_maps import convert_joints
from training.synth.motion import MotionConfig, stream_frames
from training.synth.scene import DEFAULT_CUBE_MM, SynthConfig, render_crop, render_frame

__all__ = ['DEFAULT_CUBE_MM', 'MotionConfig', 'SynthConfig', 'convert_joints', 'render_crop',
           'render_frame', 'stream_frames']
