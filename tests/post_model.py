"""The post's model as its code is described (issue 26, item A), with its one crash removed, for a load test.

Three classes, each calling ``super().__init__()``: a channel gate whose MLP is shared by the average- and
max-pooled descriptors, a ``CBAM`` holding it as ``channel_attention``, and a MobileNetV2 holding that as
``channel_atten`` and replacing the stem at every location (``input_channel`` defaults to 6). As published,
``_forward_impl`` reads an undefined ``return_score``; here it returns logits alone. The MLP's layout
(``Linear, ReLU, Linear`` in an ``nn.Sequential``) is the one the checkpoint keys ``mlp.0`` and ``mlp.2`` imply.
"""
import torch
from torch import nn
from torchvision.models import MobileNetV2


class ChannelAttention(nn.Module):
    def __init__(self, input_channels, reduction_ratio=16):
        super().__init__()
        hidden = int(input_channels / reduction_ratio)
        self.mlp = nn.Sequential(nn.Linear(input_channels, hidden), nn.ReLU(), nn.Linear(hidden, input_channels))

    def forward(self, f):
        avg = nn.functional.adaptive_avg_pool2d(f, 1).flatten(1)
        peak = nn.functional.adaptive_max_pool2d(f, 1).flatten(1)
        return torch.sigmoid(self.mlp(avg) + self.mlp(peak))[..., None, None]


class CBAM(nn.Module):
    def __init__(self, input_channels, reduction_ratio=16):
        super().__init__()
        self.channel_attention = ChannelAttention(input_channels, reduction_ratio)

    def forward(self, f):
        return f * self.channel_attention(f)


class PostMobileNet(MobileNetV2):
    def __init__(self, attention_loc="none", input_channel=6, reduction_ratio=1.0, num_classes=10):
        super().__init__(num_classes=num_classes)
        self.attention_loc = attention_loc
        old = self.features[0][0]
        self.features[0][0] = nn.Conv2d(input_channel, old.out_channels, old.kernel_size, old.stride, old.padding,
                                        bias=False)
        if attention_loc == "first":
            self.channel_atten = CBAM(input_channel, reduction_ratio)
        elif attention_loc == "last":
            self.channel_atten = CBAM(self.last_channel, reduction_ratio)

    def _forward_impl(self, x):
        if self.attention_loc == "first":
            x = self.channel_atten(x)
        x = self.features(x)
        if self.attention_loc == "last":
            x = self.channel_atten(x)
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)
