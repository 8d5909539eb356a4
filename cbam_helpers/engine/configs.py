"""What a run is: a :class:`Configuration` (the model and its input), a seed and a profile.

Chapters and experiments refer to configurations by the names defined here (``LAST``, ``FIRST_ON_NOISE``),
never by their label text: the label is for display alone.
"""
import hashlib
import json
from dataclasses import dataclass

import torch

from cbam_helpers.nn.attention import GATES, has_reduction_ratio
from cbam_helpers.engine.batches import RGB, InputSpec
from cbam_helpers.nn.mobilenet import ATTENTION_LOCATIONS, MobileNet
from cbam_helpers.engine.profiles import Profile, get_profile


@dataclass(frozen=True)
class Configuration:
    """The model and its input: where the gate sits, which gate, its reduction ratio, what the input carries.

    ``gate`` names a module of :data:`~cbam_helpers.nn.attention.GATES`; the plain network (``attention_loc``
    ``'none'``) takes neither a gate nor a ratio, so that two names never describe the same model.
    """

    attention_loc: str = "none"
    gate: str = "cbam"
    reduction_ratio: float = 1.0
    inputs: InputSpec = RGB

    def __post_init__(self):
        if self.attention_loc not in ATTENTION_LOCATIONS:
            raise ValueError(f"attention_loc must be one of {ATTENTION_LOCATIONS}, got {self.attention_loc!r}")
        if self.gate not in GATES:
            raise ValueError(f"gate must be one of {tuple(GATES)}, got {self.gate!r}")
        if not has_reduction_ratio(self.gate) and self.reduction_ratio != 1.0:
            raise ValueError(f"gate {self.gate!r} has no MLP, so no reduction ratio; got {self.reduction_ratio!r}")
        if self.attention_loc == "none" and (self.gate != "cbam" or self.reduction_ratio != 1.0):
            raise ValueError("attention_loc 'none' has no gate: leave gate and reduction_ratio at their defaults")
        if not isinstance(self.inputs, InputSpec):
            raise TypeError(f"inputs must be an InputSpec, got {self.inputs!r}")

    @property
    def label(self):
        """For display only, e.g. ``'last, RGB'`` or ``'blocks cbam-avg r=16, RGB'``."""
        model = self.attention_loc
        if self.gate != "cbam":
            model += f" {self.gate}"
        if self.reduction_ratio != 1.0:
            model += f" r={self.reduction_ratio:g}"
        return f"{model}, {self.inputs.label}"

    def at(self, seed, profile=None):
        """This configuration at ``seed`` under ``profile`` (a Profile or its name; see ``get_profile``): a :class:`RunConfig`,
        which :func:`~cbam_helpers.engine.records.run` trains or reads."""
        return RunConfig(self, seed, get_profile(profile))


@dataclass(frozen=True)
class RunConfig:
    """What identifies a run: a configuration, a seed and the whole profile.

    Its id hashes :meth:`as_dict`, the flat layout records have always had; a field at its default stays
    out of it, so records made before the field existed keep their id.
    """

    configuration: Configuration
    seed: int
    profile: Profile

    @property
    def label(self):
        return self.configuration.label

    @property
    def inputs(self):
        return self.configuration.inputs

    def as_dict(self):
        c = self.configuration
        fields = dict(attention_loc=c.attention_loc, noise_channels=c.inputs.extra_channels, seed=self.seed,
                      reduction_ratio=c.reduction_ratio, profile=self.profile.as_dict())
        if c.gate != "cbam":
            fields["gate"] = c.gate
        if c.inputs.signal:
            fields["signal"] = c.inputs.signal
        return fields

    @classmethod
    def from_dict(cls, fields):
        """The inverse of :meth:`as_dict` (a record's ``config``)."""
        inputs = InputSpec(fields["noise_channels"], fields.get("signal", 0.0))
        configuration = Configuration(fields["attention_loc"], fields.get("gate", "cbam"), fields["reduction_ratio"],
                                      inputs)
        return cls(configuration, fields["seed"], Profile(**fields["profile"]))

    @property
    def run_id(self):
        c = self.configuration
        digest = hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:8]
        gate = "" if c.gate == "cbam" else f"{c.gate}-"
        noise = f"noise{c.inputs.extra_channels}-" if c.inputs.extra_channels else ""
        signal = f"rho{c.inputs.signal:g}-" if c.inputs.signal else ""
        return f"{c.attention_loc}-{gate}{noise}{signal}r{c.reduction_ratio:g}-seed{self.seed}-{digest}"

    def build_model(self):
        """The untrained model; the seed fixes its initialisation, so same-seed runs share a backbone."""
        torch.manual_seed(self.seed)
        c = self.configuration
        return MobileNet(c.attention_loc, input_channel=c.inputs.channels, reduction_ratio=c.reduction_ratio,
                         gate=c.gate)


NOISE = InputSpec(extra_channels=3)
"""RGB and three channels of fresh N(0, 1) noise: the post's second experiment."""

BASELINE = Configuration()
"""The plain MobileNetV2 on RGB (the post's ``none``)."""
LAST = Configuration("last")
"""CBAM's channel gate on the last feature map at r = 1 (the post's ``last``)."""
LAST_R16 = Configuration("last", reduction_ratio=16)
LAST_RESIDUAL_MLP = Configuration("last", gate="residual-mlp")
"""The capacity control: ``last``'s MLP and parameters, added to the pooled features, no gate."""
NOISY_BASELINE = Configuration(inputs=NOISE)
FIRST_ON_NOISE = Configuration("first", inputs=NOISE)
"""CBAM's channel gate on the input, RGB + 3 noise (the post's ``first``)."""
FIRST_CONSTANT_ON_NOISE = Configuration("first", gate="cbam-constant", inputs=NOISE)
"""The matched control: the input gate's MLP and sigmoid fed learned descriptors instead of the image's."""
FIRST_SCALE_ON_NOISE = Configuration("first", gate="scale", inputs=NOISE)
"""A learned constant score per input channel, no MLP."""
BLOCKS_CBAM = Configuration("blocks", reduction_ratio=16)
BLOCKS_AVG = Configuration("blocks", gate="cbam-avg", reduction_ratio=16)
BLOCKS_MAX = Configuration("blocks", gate="cbam-max", reduction_ratio=16)
BLOCKS_SPATIAL = Configuration("blocks", gate="cbam-spatial", reduction_ratio=16)
"""Gates in every block, all at the CBAM paper's r = 16: both descriptors, average, max, channel + spatial."""
BLOCKS_IDENTITY = Configuration("blocks", gate="cbam-identity", reduction_ratio=16)
"""CBAM's channel gate in every block as ``2 Mc(F) F`` with its MLP's output layer zeroed: the untrained network
is the plain MobileNetV2 of the same seed, output for output."""
BLOCKS_PRACTICE = Configuration("blocks", gate="cbam-identity-h8-nodecay", reduction_ratio=16)
"""``BLOCKS_IDENTITY`` with at least 8 hidden units per gate and no weight decay on the gates' parameters."""
EXPANSION_CBAM = Configuration("expansion", reduction_ratio=16)
"""CBAM's channel gate in every block on the expanded channels, after the depthwise convolution (MobileNetV3's
place for SE), at r = 16."""
BLOCKS_ECA = Configuration("blocks", gate="eca")
"""ECA-Net's gate in every block: the average descriptor, a 1-D convolution across channels, no reduction."""
FIRST_ON_GRAY = {rho: Configuration("first", inputs=InputSpec(3, signal=rho)) for rho in (0.2, 0.5, 1.0)}
"""The input gate with extra channels ``rho * gray + sqrt(1 - rho^2) * noise``, by rho."""
