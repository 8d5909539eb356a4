"""What the network sees, and batches of it built with tensor operations on the training device.

:class:`InputSpec` says what the input is: the RGB image and, optionally, extra channels of noise or of
the image's grayscale. :func:`prepare` normalises, resizes, flips at random (training only) and appends
those channels, all batched: no per-image PIL transform and no worker processes.
"""
from dataclasses import dataclass

import torch
from torch.nn import functional as F

# CIFAR-10's per-channel pixel mean and standard deviation (original release)
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B


@dataclass(frozen=True)
class InputSpec:
    """The network's input: RGB, then ``extra_channels`` channels drawn afresh for every image and epoch.

    Each extra channel is ``signal * gray + sqrt(1 - signal^2) * noise`` with ``noise`` from N(0, 1), the
    statistics of normalised RGB, and ``gray`` the image's luma: ``signal`` 0 is pure noise, 1 copies the
    grayscale image.
    """

    extra_channels: int = 0
    signal: float = 0.0

    def __post_init__(self):
        if isinstance(self.extra_channels, bool) or not isinstance(self.extra_channels, int) or self.extra_channels < 0:
            raise ValueError(f"extra_channels must be an int >= 0, got {self.extra_channels!r}")
        if not 0 <= self.signal <= 1:
            raise ValueError(f"signal must be a correlation between 0 and 1, got {self.signal!r}")
        if self.signal and not self.extra_channels:
            raise ValueError(f"signal={self.signal} needs extra channels to carry it; set extra_channels")

    @property
    def channels(self):
        return 3 + self.extra_channels

    @property
    def rgb(self):
        """Where the image sits in the input, and in a list of the input gate's scores: ``scores[inputs.rgb]``."""
        return slice(0, 3)

    @property
    def extra(self):
        """Where the extra channels sit, after RGB: ``scores[inputs.extra]`` (empty without extra channels)."""
        return slice(3, self.channels)

    @property
    def channel_names(self):
        kind = "gray" if self.signal else "noise"
        return ("R", "G", "B") + tuple(f"{kind} {i + 1}" for i in range(self.extra_channels))

    @property
    def label(self):
        """``'RGB'``, ``'RGB + 3 noise'`` or ``'RGB + 3 gray (rho=0.5)'``."""
        if not self.extra_channels:
            return "RGB"
        if self.signal:
            return f"RGB + {self.extra_channels} gray (rho={self.signal:g})"
        return f"RGB + {self.extra_channels} noise"

    def append(self, x, generator=None):
        """Normalised RGB (B, 3, H, W) -> the network's input (B, channels, H, W)."""
        return add_noise_channels(x, self.extra_channels, generator, self.signal) if self.extra_channels else x


RGB = InputSpec()
"""The image alone, as the post's first experiment sees it."""


def add_noise_channels(x, n=3, generator=None, signal=0.0):
    """Append ``n`` channels of N(0, 1) noise, the statistics of normalised RGB, drawn afresh on every call.

    With ``signal`` = rho > 0 each channel is ``rho * gray + sqrt(1 - rho^2) * noise`` instead, where
    ``gray`` is the luma of the (normalised) RGB channels: 1 copies the grayscale image, 0 is pure noise.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"expected a 4-D tensor (B, C, H, W), got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    if not 0 <= signal <= 1:
        raise ValueError(f"signal must be a correlation between 0 and 1, got {signal!r}")
    b, _, h, w = x.shape
    noise = torch.randn(b, n, h, w, generator=generator, device=x.device, dtype=x.dtype)
    if signal:
        gray = torch.tensordot(x[:, :3], x.new_tensor(LUMA), dims=([1], [0]))[:, None]
        noise = signal * gray + (1 - signal**2) ** 0.5 * noise
    return torch.cat((x, noise), dim=1)


def seeded_generator(seed, device):
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def prepare(images, resolution, inputs=RGB, generator=None, flip=False):
    """uint8 (B, 3, 32, 32) on any device -> normalised float (B, inputs.channels, resolution, resolution)."""
    x = images.float().div_(255)
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    x = (x - mean) / std
    if x.shape[-1] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    if flip:
        mirrored = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
        x = torch.where(mirrored.view(-1, 1, 1, 1), x.flip(3), x)
    return inputs.append(x, generator).contiguous(memory_format=torch.channels_last)


def batches(images, labels, batch_size, resolution, inputs=RGB, train=False, seed=0):
    """Yield (inputs, labels) over the whole set, shuffled and flipped when ``train``.

    ``images`` and ``labels`` live on the training device; ``seed`` fixes the order, the flips and
    the extra channels, so an epoch can be replayed exactly.
    """
    generator = seeded_generator(seed, images.device)
    order = torch.randperm(len(labels), device=images.device, generator=generator) if train else None
    for start in range(0, len(labels), batch_size):
        index = order[start:start + batch_size] if train else slice(start, start + batch_size)
        yield prepare(images[index], resolution, inputs, generator, flip=train), labels[index]


def number_of_batches(n, batch_size):
    return -(-n // batch_size)
