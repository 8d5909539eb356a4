"""Helpers for the CBAM channel-attention book: gates, MobileNetV2 with attention, the experiment engine."""
from cbam_helpers.nn.attention import CBAM, ChannelAttention, ChannelGate, SpatialAttention, SqueezeExcitation
from cbam_helpers.nn.checker import check_gate
from cbam_helpers.nn.mobilenet import ATTENTION_LOCATIONS, MobileNet, count_parameters

__all__ = [
    "ATTENTION_LOCATIONS",
    "CBAM",
    "ChannelAttention",
    "ChannelGate",
    "MobileNet",
    "SpatialAttention",
    "SqueezeExcitation",
    "check_gate",
    "count_parameters",
]
