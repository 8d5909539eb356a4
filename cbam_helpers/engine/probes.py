"""What the book measures on a model while it trains, handed to :func:`~cbam_helpers.engine.train.fit` as probes.

A probe has ``after_epoch(model)`` and ``after_training(model)``, each returning fields for the run's
history (the epoch just finished, or the last one); the training loop only calls them. Every probe runs
the model in eval mode on a fixed batch, so it never touches the training randomness.
"""
import torch

from cbam_helpers.nn.attention import SpatialAttention
from cbam_helpers.engine.batches import RGB, prepare, seeded_generator
from cbam_helpers.engine.train import autocast

PROBE_IMAGES = 64
PROBE_SEED = 2018  # fixes which 64 test images (and which extra channels) every run's measurements use
SPATIAL_PROBES = 8


def probe_images(test_images, resolution, inputs=RGB, device=None):
    """The fixed 64 random test images the attention scores are averaged over (the post's measurement).

    Returns the model's inputs and the images' uint8 pixels; drawn on ``device`` so every run on it
    sees the same images.
    """
    test_images = test_images.to(device) if device is not None else test_images
    generator = seeded_generator(PROBE_SEED, test_images.device)
    index = torch.randperm(len(test_images), generator=generator, device=test_images.device)[:PROBE_IMAGES]
    pixels = test_images[index]
    return prepare(pixels, resolution, inputs, generator), pixels


class Probe:
    """Measures nothing; subclasses override one or both hooks."""

    def after_epoch(self, model):
        return {}

    def after_training(self, model):
        return {}


class GateScores(Probe):
    """The first or last gate's score per channel on the probe images: mean and SD over the images."""

    def __init__(self, probe, device):
        self.probe, self.device = probe, device

    @torch.no_grad()
    def scores(self, model):
        """(64, C) scores, or None for a model without a first or last gate that scores channels."""
        if getattr(model, "attention_loc", None) not in ("first", "last"):
            return None
        model.eval()
        with autocast(self.device):
            _, scores = model(self.probe, return_score=True)
        return None if scores is None else scores.float()

    def after_epoch(self, model):
        scores = self.scores(model)
        return dict(attention=None if scores is None else scores.mean(0).tolist(),
                    attention_std=None if scores is None else scores.std(0).tolist())


class StemNorms(Probe):
    """L2 norm of the stem convolution's weights per input channel: how much the network listens to each."""

    def after_epoch(self, model):
        weight = model.features[0][0].weight.detach().float()
        return dict(stem_norm=weight.transpose(0, 1).flatten(1).norm(dim=1).tolist())


class SpatialMaps(Probe):
    """After training, the spatial gates' maps on the first probe images: the first gate at each map size from 4x4.

    Records ``spatial_maps = dict(images, maps)``: the images as uint8 (3, 32, 32) lists and, per map size,
    ``dict(block, size, maps)`` with maps rounded to 3 decimals. Nothing for a model without spatial gates.
    """

    def __init__(self, probe, pixels, device):
        self.probe, self.pixels, self.device = probe[:SPATIAL_PROBES], pixels[:SPATIAL_PROBES], device

    @torch.no_grad()
    def after_training(self, model):
        gates = [(name, m) for name, m in model.named_modules() if isinstance(m, SpatialAttention)]
        if not gates:
            return {}
        captured = []
        hooks = [m.register_forward_hook(lambda m, i, out, name=name: captured.append((name, out)))
                 for name, m in gates]
        model.eval()
        try:
            with autocast(self.device):
                model(self.probe)
        finally:
            for hook in hooks:
                hook.remove()
        first_per_size = {}
        for name, out in captured:
            size = out.shape[-1]
            if size >= 4 and size not in first_per_size:
                maps = out[:, 0].float().cpu().round(decimals=3).tolist()
                first_per_size[size] = dict(block=name.split(".conv.")[0], size=size, maps=maps)
        return dict(spatial_maps=dict(images=self.pixels.cpu().tolist(), maps=list(first_per_size.values())))


def book_probes(test_images, profile, inputs, device):
    """The measurements every run of the book records: gate scores, stem norms, spatial maps."""
    probe, pixels = probe_images(test_images, profile.resolution, inputs, device)
    return [GateScores(probe, device), StemNorms(), SpatialMaps(probe, pixels, device)]
