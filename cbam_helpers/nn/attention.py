"""Channel attention: score modules, which compute attention maps, and gates, which apply them.

**Score modules** compute attention maps: ``ChannelAttention`` CBAM's ``Mc(F)``, (B, C, 1, 1), and its variants
(one descriptor, learned constants, ECA-Net's convolution); ``SpatialAttention`` CBAM's ``Ms``, (B, 1, H, W).
**Gates** apply them: ``ChannelGate`` (``Mc(F) * F``), ``CBAM`` (then ``Ms``), and the controls.

**The gate contract.** Every module :data:`GATES` builds, and that :class:`~cbam_helpers.MobileNet` places:

1. ``gate(x)`` takes features (B, C, H, W) and returns features of the same shape and dtype, nothing else;
2. a gate that scores channels holds its score module as ``gate.channel_gate``; a gate that does not (the
   capacity control ``residual-mlp``) has ``channel_gate = None``. Scores are read with
   :func:`recorded_scores`, a forward hook on that module, so reading them never changes the forward pass;
3. ``GATES[name](channels, reduction_ratio)`` builds it; a gate with no MLP has no reduction ratio and refuses
   any but the default 1.0, so two run ids never name the same model.
"""
import contextlib
import math
import numbers

import torch
from torch import nn


def check_features(x, channels):
    """Raise a readable error unless ``x`` is a (B, channels, H, W) tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor of shape (B, {channels}, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"expected a 4-D tensor (B, {channels}, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise ValueError(
            f"expected {channels} channels (dimension 1), got {x.shape[1]} in a tensor of shape {tuple(x.shape)}"
        )


def at_least_float32(x):
    """Upcast half-precision logits: under bf16 autocast, scores near 0 and 1 would round together."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def hidden_units(input_channels, reduction_ratio):
    """Width of the MLP's hidden layer, ``int(C / r)``, refusing ratios that leave it empty."""
    if isinstance(input_channels, bool) or not isinstance(input_channels, numbers.Integral):
        raise TypeError(f"input_channels must be an int, got {input_channels!r}")
    if input_channels < 1:
        raise ValueError(f"input_channels must be >= 1, got {input_channels}")
    if isinstance(reduction_ratio, bool) or not isinstance(reduction_ratio, numbers.Real):
        raise TypeError(f"reduction_ratio must be a positive number, got {reduction_ratio!r}")
    if reduction_ratio <= 0:
        raise ValueError(f"reduction_ratio must be > 0, got {reduction_ratio}")
    hidden = int(input_channels / reduction_ratio)
    if hidden < 1:
        raise ValueError(
            f"reduction_ratio={reduction_ratio} leaves int({input_channels} / {reduction_ratio}) = 0 hidden units "
            f"for {input_channels} channels, and a gate with no hidden unit ignores its input; "
            f"use a reduction_ratio <= {input_channels} (for example 1.0)"
        )
    return hidden


class ChannelAttention(nn.Module):
    """CBAM's channel gate: per-channel scores in (0, 1), shape (B, C, 1, 1).

    One MLP ``Linear(C, h) -> ReLU -> Linear(h, C)``, ``h = int(C / r)``,
    is shared by the average- and max-pooled descriptors; it runs once over
    both, stacked, and the two outputs are summed before the sigmoid.
    """

    def __init__(self, input_channels, reduction_ratio=16):
        super().__init__()
        hidden = hidden_units(input_channels, reduction_ratio)
        self.input_channels = input_channels
        self.reduction_ratio = reduction_ratio
        self.mlp = nn.Sequential(
            nn.Linear(input_channels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, input_channels),
        )

    def descriptors(self, x):
        """Global pooled descriptors, stacked on a new first dim: (2, B, C)."""
        return torch.stack((x.mean((2, 3)), x.amax((2, 3))))

    def forward(self, x):
        check_features(x, self.input_channels)
        logits = self.mlp(self.descriptors(x)).sum(0)
        return torch.sigmoid(at_least_float32(logits))[..., None, None]

    def extra_repr(self):
        return (f"input_channels={self.input_channels}, "
                f"reduction_ratio={self.reduction_ratio}")


class SqueezeExcitation(ChannelAttention):
    """SE-Net's gate: the same MLP and sigmoid, fed the average alone."""

    def descriptors(self, x):
        return x.mean((2, 3))[None]


class MaxPoolAttention(ChannelAttention):
    """CBAM's channel gate fed the max alone (the paper's Table 1 ablation)."""

    def descriptors(self, x):
        return x.amax((2, 3))[None]


class ConstantChannelAttention(ChannelAttention):
    """CBAM's channel gate fed a learned pair of descriptors instead of the input's: the same for every input.

    The matched control for an input gate: the same MLP (built from the same random numbers as
    :class:`ChannelAttention` for a given seed), the same sigmoid and, at the start, the same scores as
    CBAM's gate gives the average input: at the first training forward the learned descriptors are set to
    that batch's mean average- and max-pooled descriptors. It differs from CBAM's gate only in not
    looking at the image it gates.
    """

    def __init__(self, input_channels, reduction_ratio=16):
        super().__init__(input_channels, reduction_ratio)
        self.context = nn.Parameter(torch.zeros(2, 1, input_channels))
        self.register_buffer("initialised", torch.tensor(False))

    def descriptors(self, x):
        if self.training and not self.initialised:
            with torch.no_grad():
                self.context.copy_(super().descriptors(x).mean(1, keepdim=True))
                self.initialised.fill_(True)
        return self.context.expand(-1, x.shape[0], -1)


CHANNEL_GATES = {"both": ChannelAttention, "avg": SqueezeExcitation, "max": MaxPoolAttention,
                 "constant": ConstantChannelAttention}
"""Which global descriptors feed the channel gate's MLP."""


class SpatialAttention(nn.Module):
    """CBAM's spatial gate: ``sigmoid(conv_kxk([mean_c(F); max_c(F)]))``, shape (B, 1, H, W)."""

    def __init__(self, kernel_size=7):
        super().__init__()
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"spatial_kernel must be a positive odd int, got {kernel_size!r}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x):
        pooled = torch.cat((x.mean(1, keepdim=True), x.amax(1, keepdim=True)), dim=1)
        return torch.sigmoid(at_least_float32(self.conv(pooled)))


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


class LearnedScores(nn.Module):
    """A learned score per channel, the same for every input: ``sigmoid(w)``, shape (B, C, 1, 1)."""

    def __init__(self, input_channels):
        super().__init__()
        hidden_units(input_channels, 1)  # the same checks on input_channels
        self.input_channels = input_channels
        self.logits = nn.Parameter(torch.zeros(input_channels))

    def forward(self, x):
        check_features(x, self.input_channels)
        return torch.sigmoid(self.logits).expand(x.shape[0], -1)[..., None, None]


class ChannelScale(ScoredGate):
    """``sigmoid(w) * F``: a gate whose scores are learned constants, one per channel.

    The control for an input gate: what a channel gate achieves without looking at its input.
    Starts at 0.5, as a freshly built channel gate roughly does.
    """

    def __init__(self, input_channels):
        super().__init__(LearnedScores(input_channels))


def eca_kernel_size(channels, gamma=2, b=1):
    """ECA's kernel size for ``channels``: ``t = int(|(log2 C + b) / gamma|)``, made odd by adding one."""
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


class EfficientChannelAttention(nn.Module):
    """ECA-Net's scores: ``sigmoid(conv1d_k(AvgPool(F)))`` across channels, shape (B, C, 1, 1).

    No MLP and so no reduction: each channel's score looks at its ``k`` neighbours in the channel order,
    through ``k`` shared weights (no bias), with ``k`` from :func:`eca_kernel_size`.
    """

    def __init__(self, input_channels):
        super().__init__()
        hidden_units(input_channels, 1)  # the same checks on input_channels
        self.input_channels = input_channels
        self.kernel_size = eca_kernel_size(input_channels)
        self.conv = nn.Conv1d(1, 1, self.kernel_size, padding=self.kernel_size // 2, bias=False)

    def forward(self, x):
        check_features(x, self.input_channels)
        logits = self.conv(x.mean((2, 3))[:, None]).squeeze(1)
        return torch.sigmoid(at_least_float32(logits))[..., None, None]

    def extra_repr(self):
        return f"input_channels={self.input_channels}, kernel_size={self.kernel_size}"


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
    "scale": without_reduction(ChannelScale),
    "eca": without_reduction(ECA),
    "residual-mlp": lambda channels, r=1.0: PooledResidualMLP(channels, r),
}
"""Modules a :class:`~cbam_helpers.MobileNet` can place, by name: ``GATES[name](channels, reduction_ratio)``.

``cbam`` is the post's gate, CBAM's channel half (:class:`ChannelGate`); ``cbam-avg`` / ``cbam-max`` feed it one
descriptor (``cbam-avg`` is SE-Net's gate); ``cbam-spatial`` is the paper's whole :class:`CBAM`; ``eca`` is
ECA-Net's; ``cbam-constant``, ``scale`` and ``residual-mlp`` are controls.
"""
