"""torchvision's MobileNetV2 with CBAM channel attention at the input, the last feature map or in every block
(on the block's output, or inside its expansion as MobileNetV3 places SE)."""
import contextlib

import torch
from torch import nn
from torchvision.models import MobileNetV2
from torchvision.models.mobilenetv2 import InvertedResidual

from cbam_helpers.nn.attention import GATES, recorded_scores

ATTENTION_LOCATIONS = ("none", "first", "last", "blocks", "expansion")
IN_BLOCKS = ("blocks", "expansion")
"""The placements with a gate in every inverted-residual block."""


class MobileNet(MobileNetV2):
    """MobileNetV2 with a CBAM channel gate, keeping the argument names of the post it follows.

    attention_loc:
        ``'none'``: plain MobileNetV2 (its state dict is torchvision's, key for key).
        ``'first'``: a gate on the input channels, before ``features``.
        ``'last'``: a gate on the final 1280-channel feature map, before global pooling.
        ``'blocks'``: a gate in every inverted-residual block, after the projection conv and its
        batch norm and before the residual add.
        ``'expansion'``: a gate in every inverted-residual block on the expanded channels, after the
        depthwise convolution and its activation and before the projection, where MobileNetV3 puts SE.
    input_channel:
        channels of the input image; anything but 3 replaces the stem convolution
        (kaiming normal, fan_out, as torchvision initialises its own convolutions).
    gate:
        which module sits at those places, a name in :data:`~cbam_helpers.nn.attention.GATES`:
        ``'cbam'`` (CBAM's channel gate, the default) or a variant or control of it.

    ``forward(x, return_score=True)`` returns ``(logits, scores)``, the scores of the ``first``
    or ``last`` gate as (B, C) (``None`` for a gate that scores nothing): the post's API, read here
    through :func:`~cbam_helpers.nn.attention.recorded_scores`, since every gate returns features alone.

    What changed from the post's code: its model's ``_forward_impl`` reads a ``return_score`` it is
    never given (a ``NameError``), and its ``CBAM.forward(self, f)`` takes no ``return_score`` and
    returns no scores (a ``TypeError`` where the model passes one). Here every gate returns features
    alone and the model reads the gate's scores with a forward hook. The post also replaces the stem
    convolution at every location, with ``input_channel`` defaulting to 6 (why its noise baseline
    takes six channels); here the stem is torchvision's unless ``input_channel`` is not 3. The gate's MLP keeps PyTorch's
    default ``nn.Linear`` initialisation: it is built after torchvision's own initialisation runs.
    """

    def __init__(self, attention_loc="none", input_channel=3, reduction_ratio=1.0, num_classes=10, gate="cbam",
                 **kwargs):
        if attention_loc not in ATTENTION_LOCATIONS:
            raise ValueError(f"attention_loc must be one of {ATTENTION_LOCATIONS}, got {attention_loc!r}")
        if gate not in GATES:
            raise ValueError(f"gate must be one of {tuple(GATES)}, got {gate!r}")
        if isinstance(input_channel, bool) or not isinstance(input_channel, int) or input_channel < 1:
            raise ValueError(f"input_channel must be an int >= 1 (3 for RGB), got {input_channel!r}")
        super().__init__(num_classes=num_classes, **kwargs)
        self.attention_loc = attention_loc
        self.input_channel = input_channel
        if input_channel != 3:
            self.features[0][0] = self._stem(input_channel)
        self.gate_name = gate
        self.attention = None
        if attention_loc == "first":
            self.attention = GATES[gate](input_channel, reduction_ratio)
        elif attention_loc == "last":
            self.attention = GATES[gate](self.last_channel, reduction_ratio)
        elif attention_loc == "blocks":
            for block in gated_blocks(self):
                block.conv.append(GATES[gate](block.out_channels, reduction_ratio))
        elif attention_loc == "expansion":
            for block in gated_blocks(self):
                depthwise = block.conv[-3]  # then the projection conv and its BN
                block.conv.insert(len(block.conv) - 2, GATES[gate](depthwise.out_channels, reduction_ratio))

    POST_GATE_PREFIX = "channel_atten.channel_attention."
    """Where the post's model keeps its gate's score module: ``channel_atten.channel_attention.mlp.*``."""

    def load_post_state_dict(self, state_dict):
        """Load a checkpoint of the post's model, whose gate's MLP sits at ``channel_atten.channel_attention.mlp.*``.

        Here the gate's MLP is ``attention.channel_gate.mlp.*`` (the score module lives inside a
        :class:`~cbam_helpers.nn.attention.ChannelGate`); every other key is torchvision's and needs no change.
        Build this model with the post's ``attention_loc``, ``input_channel`` and ``reduction_ratio``.
        """
        prefix = self.POST_GATE_PREFIX
        renamed = {"attention.channel_gate." + key[len(prefix):] if key.startswith(prefix) else key: value
                   for key, value in state_dict.items()}
        return self.load_state_dict(renamed, strict=True)

    def _stem(self, input_channel):
        old = self.features[0][0]
        stem = nn.Conv2d(input_channel, old.out_channels, old.kernel_size, old.stride, old.padding, bias=False)
        nn.init.kaiming_normal_(stem.weight, mode="fan_out")
        return stem

    def forward(self, x, return_score=False):
        if return_score and self.attention_loc not in ("first", "last"):
            raise ValueError(
                f"return_score=True needs attention_loc 'first' or 'last', this model has {self.attention_loc!r}"
            )
        if not return_score:
            return self.logits(x)
        with recorded_scores(self.attention) as scores:
            logits = self.logits(x)
        return logits, scores[-1].flatten(1) if scores else None

    def logits(self, x):
        if self.attention_loc == "first":
            x = self.attention(x)
        x = self.features(x)
        if self.attention_loc == "last":
            x = self.attention(x)
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def gated_blocks(network):
    """The inverted-residual blocks of ``network``: where the ``blocks`` placement appends a gate to each ``conv``."""
    return [block for block in network.features if isinstance(block, InvertedResidual)]


def block_gates(network):
    """The gate of every inverted-residual block of a ``blocks`` or ``expansion`` network, in order."""
    where = getattr(network, "attention_loc", None)
    if where not in IN_BLOCKS:
        raise ValueError(f"a network with a gate in every block has attention_loc in {IN_BLOCKS}, got {where!r}")
    position = -1 if where == "blocks" else -3
    return [block.conv[position] for block in gated_blocks(network)]


def block_scores(network, images):
    """The channel scores of every block's gate for ``images``, one (B, C) tensor per block, from one forward pass
    (no gradients; the network's mode, train or eval, is left as it is)."""
    gates = block_gates(network)
    if any(getattr(gate, "channel_gate", None) is None for gate in gates):
        raise ValueError(f"the blocks' gate, {network.gate_name!r}, scores no channels (its channel_gate is None)")
    with contextlib.ExitStack() as stack, torch.no_grad():
        per_block = [stack.enter_context(recorded_scores(gate)) for gate in gates]
        network(images)
    return [scores[-1].flatten(1) for scores in per_block]


def count_parameters(model):
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
