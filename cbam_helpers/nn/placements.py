"""Where a gate goes in the blocks practitioners use.

Three placements, each built from torchvision's own blocks:

* :class:`GatedBottleneck`: ResNet's bottleneck with a gate on the residual branch, after the last batch norm
  and before the addition, where the CBAM paper puts CBAM;
* :func:`mobilenet_v3_gated`: torchvision's MobileNetV3, whose blocks hold an SE gate after the depthwise
  convolution, with that gate swapped for any of the package's (or removed);
* MobileNetV2 with a gate in every block (``MobileNet("blocks")``), the book's own placement.

What each costs is measured by :mod:`cbam_helpers.engine.costs`.
"""
from functools import partial

from torch import nn
from torchvision.models import mobilenet_v3_small
from torchvision.models.mobilenetv2 import InvertedResidual as V2Block
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.ops.misc import SqueezeExcitation as TorchvisionSE

from cbam_helpers.nn.attention import GATES, has_reduction_ratio
from cbam_helpers.nn.mobilenet import MobileNet


def build_gate(name, channels, reduction_ratio=16):
    """``GATES[name]`` at ``reduction_ratio`` when it has an MLP, at its only ratio otherwise."""
    build = GATES[name]
    return build(channels, reduction_ratio) if has_reduction_ratio(name) else build(channels)


class GatedBottleneck(Bottleneck):
    """torchvision's ``Bottleneck`` with ``gate`` on the residual branch:
    after ``bn3``, before the addition."""

    def __init__(self, *args, gate="cbam-spatial", reduction_ratio=16,
                 **kwargs):
        super().__init__(*args, **kwargs)
        channels = self.bn3.num_features
        self.gate = build_gate(gate, channels, reduction_ratio)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.gate(self.bn3(self.conv3(out)))  # the branch only
        return self.relu(out + identity)


def resnet50_gated(gate=None, reduction_ratio=16, num_classes=10):
    """ResNet-50 with ``gate`` in each of its 16 bottlenecks (``None``: torchvision's plain ResNet-50)."""
    if gate is None:
        return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes)
    block = partial(GatedBottleneck, gate=gate, reduction_ratio=reduction_ratio)
    block.expansion = Bottleneck.expansion  # ResNet reads the class attribute off what it is given
    return ResNet(block, [3, 4, 6, 3], num_classes=num_classes)


def mobilenet_v3_gated(gate="torchvision", reduction_ratio=16, num_classes=10):
    """torchvision's MobileNetV3-Small with its SE gates as built (``'torchvision'``), removed (``None``), or
    replaced, at the same places, by ``GATES[gate]`` on the same (expanded) channels."""
    model = mobilenet_v3_small(num_classes=num_classes)
    if gate == "torchvision":
        return model
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, TorchvisionSE):
                channels = child.fc1.in_channels
                setattr(parent, name, nn.Identity() if gate is None else build_gate(gate, channels,
                                                                                     reduction_ratio))
    return model


def mobilenet_v2_gated(gate=None, reduction_ratio=16, num_classes=10):
    """The book's MobileNetV2 with ``gate`` in every inverted-residual block (``None``: no gate)."""
    if gate is None:
        return MobileNet(num_classes=num_classes)
    return MobileNet("blocks", reduction_ratio=reduction_ratio if has_reduction_ratio(gate) else 1.0, gate=gate,
                     num_classes=num_classes)


def v2_blocks(model=None):
    """MobileNetV2's 17 inverted-residual blocks: channels in and out, stride, and whether an identity path exists."""
    model = model or MobileNet()
    return [dict(block=i, channels_in=b.conv[0][0].in_channels, channels_out=b.out_channels, stride=b.stride,
                 identity=b.use_res_connect)
            for i, b in enumerate(m for m in model.features if isinstance(m, V2Block))]


def hidden_widths(channels, reduction_ratio=16):
    """The MLP's hidden width at ``channels`` by three rules: the official code's ``C // r``, timm's
    ``make_divisible(C / r, 1, round_limit=0)`` (round to nearest, at least 1), and this package's ``int(C / r)``,
    which it refuses when 0 (``None`` here)."""
    package = int(channels / reduction_ratio)
    return dict(channels=channels, official=channels // reduction_ratio,
                timm=max(1, int(channels / reduction_ratio + 0.5)), package=package or None)
