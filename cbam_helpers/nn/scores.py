"""Score modules: what a channel or spatial gate computes before it multiplies, an attention map in (0, 1).

``ChannelAttention`` is CBAM's ``Mc(F)``, (B, C, 1, 1), with its variants (one descriptor, learned descriptors,
learned constants) and ECA-Net's convolution; ``SpatialAttention`` is CBAM's ``Ms``, (B, 1, H, W). The gates
that apply them, and the registry of gates, are in :mod:`cbam_helpers.nn.attention`.
"""
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
    ``min_hidden`` sets a floor on ``h`` (1: the paper's width).
    """

    def __init__(self, input_channels, reduction_ratio=16, min_hidden=1):
        super().__init__()
        hidden = hidden_units(input_channels, reduction_ratio)
        hidden = max(min_hidden, hidden)  # a floor, as timm's SE keeps one
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
