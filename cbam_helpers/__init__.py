"""Helpers for the CBAM channel-attention book: gates, MobileNetV2 with attention, the experiment engine."""
from .attention import CBAM, ChannelAttention, SpatialAttention, SqueezeExcitation
from .checker import check_gate
from .mobilenet import ATTENTION_LOCATIONS, MobileNet, count_parameters

__all__ = [
    "ATTENTION_LOCATIONS",
    "CBAM",
    "ChannelAttention",
    "MobileNet",
    "SpatialAttention",
    "SqueezeExcitation",
    "check_gate",
    "count_parameters",
]
