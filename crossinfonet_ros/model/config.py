"""Architecture configuration of CrossInfoNet, JSON-safe for self-describing weights files.

Defaults follow the released code (spec 8): J_a from the 2048-d features, Xavier init, drop
probability 0.4, TF1 bilinear resizing; each paper difference is a switch.
"""

from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Tuple, Union

from crossinfonet_ros.layouts import DEFAULT_LAYOUT, JointLayout, get_layout

# BatchNorm of every conv / FC layer: TF decay 0.9 == PyTorch momentum 0.1, eps 1e-5 (spec 1.1).
BN_EPS = 1e-5
BN_MOMENTUM = 0.1

VARIANTS = ('cross', 'base')
FINAL_JOINTS = ('ja', 'concat')
INITS = ('xavier', 'normal')

_DEFAULT = get_layout(DEFAULT_LAYOUT)


@dataclass(frozen=True)
class ModelConfig:
    """Everything that changes the network's layers or outputs.

    Validated on construction; a bad field raises ``ValueError`` naming it.
    """

    # A, number of joints in the layout (3A regression outputs, A heat-map channels).
    num_joints: int = _DEFAULT.num_joints
    # Palm joint indices in J_p order (layout order indices); default HANDS2017 wrist + MCPs.
    palm: Tuple[int, ...] = _DEFAULT.palm
    # Finger joint indices in J_f order; palm + finger must cover every joint exactly once.
    finger: Tuple[int, ...] = _DEFAULT.finger
    # 'cross': the released network (spec 1.6); 'base': paper Fig. 3, two independent branches
    # without the subtraction / cross concatenation (spec 1.8). Both keep the J_p / J_f heads.
    variant: str = 'cross'
    # Heat-map heads present and supervised (L_ht, L_bp, L_bf). False ("Base" / "Cross" without
    # "+HM") removes the heads and the P2 pyramid level (they would get no gradient), and the
    # heat-map outputs are None.
    heatmaps: bool = True
    # 'ja': joints = J_a regressed from concat(f_p, f_f) (code); 'concat': joints = J_p and J_f
    # scattered back into layout order (paper Alg. 1 line 6); the J_a layer then does not exist.
    final_joints: str = 'ja'
    # 'xavier': Glorot uniform (code, slim default); 'normal': N(0, 0.01) (paper, issue #7).
    init: str = 'xavier'
    # Drop probability of the four 1024-d FC layers (code keep_prob 0.6, spec 1.7).
    dropout: float = 0.4
    # Side of the square depth crop in pixels (96 in the paper); a multiple of 32.
    input_size: int = 96
    # True: TF1 legacy resize_bilinear (align_corners=False, no half-pixel, spec 1.10) for the
    # pyramid and the 12->24 heat-map resizes; False: PyTorch F.interpolate (half-pixel).
    tf_bilinear: bool = True

    def __post_init__(self) -> None:
        # Accept lists (e.g. from JSON) but store tuples so the config stays hashable.
        object.__setattr__(self, 'palm', tuple(self.palm))
        object.__setattr__(self, 'finger', tuple(self.finger))
        if not isinstance(self.num_joints, int) or self.num_joints < 2:
            raise ValueError(f'num_joints must be an integer >= 2, got {self.num_joints!r}')
        if not self.palm or not self.finger:
            raise ValueError('palm and finger joint subsets must both be non-empty')
        if sorted(self.palm + self.finger) != list(range(self.num_joints)):
            raise ValueError(f'palm + finger must cover joints 0..{self.num_joints - 1} exactly'
                             f' once, got palm={self.palm} finger={self.finger}')
        for name, value, allowed in (('variant', self.variant, VARIANTS),
                                     ('final_joints', self.final_joints, FINAL_JOINTS),
                                     ('init', self.init, INITS)):
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {self.dropout!r}')
        if not isinstance(self.input_size, int) or self.input_size < 32 \
                or self.input_size % 32:
            raise ValueError(f'input_size must be a positive multiple of 32, got'
                             f' {self.input_size!r}')

    @property
    def num_palm(self) -> int:
        """P, number of palm joints."""
        return len(self.palm)

    @property
    def num_finger(self) -> int:
        """F, number of finger joints."""
        return len(self.finger)

    @property
    def heatmap_size(self) -> int:
        """Side of the heat-maps, input / 4 (24 for 96; spec 1.5)."""
        return self.input_size // 4

    @classmethod
    def from_layout(cls, layout: Union[JointLayout, str], split: str = 'code',
                    **overrides: Any) -> 'ModelConfig':
        """Build the config for a joint layout.

        :param layout: a :class:`JointLayout` or its registered name
        :param split: palm/finger split, ``'code'`` (released code) or ``'paper'`` (Fig. 4)
        :param overrides: any other :class:`ModelConfig` field
        """
        if isinstance(layout, str):
            layout = get_layout(layout)
        palm, finger = layout.split(split)
        return cls(num_joints=layout.num_joints, palm=palm, finger=finger, **overrides)

    def to_dict(self) -> Dict[str, Any]:
        """Return a JSON-safe dict (tuples become lists) that :meth:`from_dict` reads back."""
        data = asdict(self)
        data['palm'] = list(self.palm)
        data['finger'] = list(self.finger)
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'ModelConfig':
        """Rebuild a config from :meth:`to_dict` output.

        :param data: mapping of field names to values; missing fields take their defaults
        :raises ValueError: on unknown fields or invalid values
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f'unknown ModelConfig fields {unknown}; known: {sorted(known)}')
        return cls(**data)
