"""Batches from in-memory uint8 tensors, built with tensor operations on the training device.

Normalise, resize to the profile's resolution, flip at random (training only) and append noise
channels, all batched: no per-image PIL transform and no worker processes.
"""
import torch
from torch.nn import functional as F

from .data import add_noise_channels

# CIFAR-10's per-channel pixel mean and standard deviation (original release)
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


def seeded_generator(seed, device):
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def prepare(images, resolution, noise_channels=0, generator=None, flip=False, signal=0.0):
    """uint8 (B, 3, 32, 32) on any device -> normalised float (B, 3 + noise, resolution, resolution).

    ``signal``: how much of the grayscale image the extra channels carry (see :func:`add_noise_channels`).
    """
    x = images.float().div_(255)
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    x = (x - mean) / std
    if x.shape[-1] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    if flip:
        mirrored = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
        x = torch.where(mirrored.view(-1, 1, 1, 1), x.flip(3), x)
    if noise_channels:
        x = add_noise_channels(x, noise_channels, generator=generator, signal=signal)
    return x.contiguous(memory_format=torch.channels_last)


def batches(images, labels, batch_size, resolution, noise_channels=0, train=False, seed=0, signal=0.0):
    """Yield (inputs, labels) over the whole set, shuffled and flipped when ``train``.

    ``images`` and ``labels`` live on the training device; ``seed`` fixes the order, the flips and
    the noise, so an epoch can be replayed exactly.
    """
    generator = seeded_generator(seed, images.device)
    order = torch.randperm(len(labels), device=images.device, generator=generator) if train else None
    for start in range(0, len(labels), batch_size):
        index = order[start:start + batch_size] if train else slice(start, start + batch_size)
        yield prepare(images[index], resolution, noise_channels, generator, flip=train, signal=signal), labels[index]


def number_of_batches(n, batch_size):
    return -(-n // batch_size)
