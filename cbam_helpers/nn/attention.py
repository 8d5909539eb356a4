"""Channel attention: gates, which apply attention maps, and :data:`GATES`, the registry of them by name.

**Gates** apply the maps that score modules (:mod:`cbam_helpers.nn.scores`, whose names this module re-exports)
compute: ``ChannelGate`` (``Mc(F) * F``), ``CBAM`` (then ``Ms``), ``ECA``, and the controls.

**The gate contract.** Every module :data:`GATES` builds, and that :class:`~cbam_helpers.MobileNet` places:

1. ``gate(x)`` takes features (B, C, H, W) and returns features of the same shape and dtype, nothing else;
2. a gate that scores channels holds its score module as ``gate.channel_gate``; a gate that does not (the
   capacity control ``residual-mlp``) has ``channel_gate = None``. Scores are read with
   :func:`recorded_scores`, a forward hook on that module, so reading them never changes the forward pass;
3. ``GATES[name](channels, reduction_ratio)`` builds it; a gate with no MLP has no reduction ratio and refuses
   any but the default 1.0, so two run ids never name the same model.
"""
import contextlib

from torch import nn

from cbam_helpers.nn.scores import (  # re-exported: one import holds the score modules and the gates
    CHANNEL_GATES, ChannelAttention, ConstantChannelAttention, EfficientChannelAttention, LearnedScores,
    MaxPoolAttention, SpatialAttention, SqueezeExcitation, at_least_float32, check_features, eca_kernel_size,
    hidden_units,
)


class ScoredGate(nn.Module):
    """``scores(F) * F`` for a score module returning (B, C, 1, 1), kept as ``channel_gate``."""

    def __init__(self, score_module):
        super().__init__()
        self.channel_gate = score_module

    def forward(self, x):
        return x * self.channel_gate(x).to(x.dtype)


class ChannelGate(ScoredGate):
    """CBAM's channel half as a gate, ``Mc(F) * F``: the post's module (timm's ``ChannelAttn``).

    ``pooling`` picks the descriptors of its score module, ``channel_gate``: ``'both'`` (CBAM), ``'avg'``
    (SE-Net), ``'max'``, or ``'constant'`` (learned descriptors, the same for every input: a control).
    """

    def __init__(self, input_channels, reduction_ratio=16, pooling="both"):
        if pooling not in CHANNEL_GATES:
            raise ValueError(f"pooling must be one of {tuple(CHANNEL_GATES)}, got {pooling!r}")
        super().__init__(CHANNEL_GATES[pooling](input_channels, reduction_ratio))


class CBAM(ChannelGate):
    """The paper's module: the channel gate, then the spatial gate, ``F' = Mc(F) * F``, ``Ms(F') * F'``
    (timm's ``CbamModule``)."""

    def __init__(self, input_channels, reduction_ratio=16, spatial_kernel=7, pooling="both"):
        super().__init__(input_channels, reduction_ratio, pooling)
        self.spatial_gate = SpatialAttention(spatial_kernel)

    def forward(self, x):
        out = super().forward(x)
        return out * self.spatial_gate(out).to(out.dtype)


class ResidualChannelGate(ScoredGate):
    """``F + F * (2 Mc(F) - 1)``, that is ``2 Mc(F) F``: CBAM's channel gate that is the identity at score 0.5.

    The MLP's output layer starts at zero, so every score is exactly 0.5 and the gate passes its input unchanged
    until training moves the MLP (GCT's and NFNets' way to start a gate).
    """

    def __init__(self, input_channels, reduction_ratio=16, min_hidden=1):
        super().__init__(ChannelAttention(input_channels, reduction_ratio, min_hidden))
        output = self.channel_gate.mlp[-1]
        nn.init.zeros_(output.weight)
        nn.init.zeros_(output.bias)

    def forward(self, x):
        return 2 * super().forward(x)


class PracticeChannelGate(ResidualChannelGate):
    """The identity-start gate as light networks' practice builds it: at least 8 hidden units (timm's SE,
    Coordinate Attention) and no weight decay on its parameters (GCT, mobile recipes' small decay).

    ``decays = False`` tells the optimiser to leave this module's parameters undecayed.
    """

    decays = False

    def __init__(self, input_channels, reduction_ratio=16):
        super().__init__(input_channels, reduction_ratio, min_hidden=8)


class ChannelScale(ScoredGate):
    """``sigmoid(w) * F``: a gate whose scores are learned constants, one per channel.

    The control for an input gate: what a channel gate achieves without looking at its input.
    Starts at 0.5, as a freshly built channel gate roughly does.
    """

    def __init__(self, input_channels):
        super().__init__(LearnedScores(input_channels))


class ECA(ScoredGate):
    """ECA-Net's gate, ``EfficientChannelAttention(F) * F``."""

    def __init__(self, input_channels):
        super().__init__(EfficientChannelAttention(input_channels))


class PooledResidualMLP(nn.Module):
    """``F + MLP(AvgPool(F))``: the parameters of a channel gate's MLP, and no gate.

    Before global average pooling this adds ``MLP(p)`` to the pooled vector ``p``, so a classifier
    after it sees ``p + MLP(p)``: the capacity control for a gate on the last feature map, which
    multiplies ``p`` by ``sigmoid(...)`` instead. It scores nothing: ``channel_gate`` is ``None``.
    """

    channel_gate = None

    def __init__(self, input_channels, reduction_ratio=1.0):
        super().__init__()
        hidden = hidden_units(input_channels, reduction_ratio)
        self.input_channels = input_channels
        self.mlp = nn.Sequential(nn.Linear(input_channels, hidden), nn.ReLU(), nn.Linear(hidden, input_channels))

    def forward(self, x):
        check_features(x, self.input_channels)
        return x + self.mlp(x.mean((2, 3)))[..., None, None].to(x.dtype)


@contextlib.contextmanager
def recorded_scores(gate):
    """Collect the channel scores ``gate`` computes while the block is open: a list, one (B, C, 1, 1) per call.

    A forward hook on ``gate.channel_gate``; the list stays empty for a gate that scores nothing.
    """
    scores = []
    score_module = getattr(gate, "channel_gate", None)
    if score_module is None:
        yield scores
        return
    handle = score_module.register_forward_hook(lambda module, inputs, output: scores.append(output))
    try:
        yield scores
    finally:
        handle.remove()


def without_reduction(build):
    """A gate builder for a gate with no MLP: it refuses a reduction ratio other than the default 1.0."""
    def checked(channels, reduction_ratio=1.0):
        if reduction_ratio != 1.0:
            raise ValueError(f"this gate has no MLP, so no reduction ratio; got reduction_ratio={reduction_ratio!r} "
                             "(leave it at 1.0)")
        return build(channels)
    checked.has_reduction_ratio = False
    return checked


GATES = {
    "cbam": lambda channels, r=16: ChannelGate(channels, r),
    "cbam-avg": lambda channels, r=16: ChannelGate(channels, r, pooling="avg"),
    "cbam-max": lambda channels, r=16: ChannelGate(channels, r, pooling="max"),
    "cbam-spatial": lambda channels, r=16: CBAM(channels, r),
    "cbam-constant": lambda channels, r=16: ChannelGate(channels, r, pooling="constant"),
    "cbam-identity": lambda channels, r=16: ResidualChannelGate(channels, r),
    "cbam-identity-h8-nodecay": lambda channels, r=16: PracticeChannelGate(channels, r),
    "scale": without_reduction(ChannelScale),
    "eca": without_reduction(ECA),
    "residual-mlp": lambda channels, r=1.0: PooledResidualMLP(channels, r),
}
"""Modules a :class:`~cbam_helpers.MobileNet` can place, by name: ``GATES[name](channels, reduction_ratio)``.

``cbam`` is the post's gate, CBAM's channel half (:class:`ChannelGate`); ``cbam-avg`` / ``cbam-max`` feed it one
descriptor (``cbam-avg`` is SE-Net's gate); ``cbam-spatial`` is the paper's whole :class:`CBAM`;
``cbam-identity`` is CBAM's channel gate as ``2 Mc(F) F`` started at the identity (:class:`ResidualChannelGate`),
``cbam-identity-h8-nodecay`` the same with at least 8 hidden units and undecayed (:class:`PracticeChannelGate`);
``eca`` is ECA-Net's; ``cbam-constant``, ``scale`` and ``residual-mlp`` are controls.
"""


def has_reduction_ratio(name):
    """Whether gate ``name`` has an MLP whose hidden width a reduction ratio sets (ECA has none)."""
    return getattr(GATES[name], "has_reduction_ratio", True)
