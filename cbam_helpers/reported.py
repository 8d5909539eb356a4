"""Numbers reported by others, never by our runs: the post the book follows, and the CBAM paper.

Keyed by the configurations of :mod:`.configs` that correspond to them.
"""
from .configs import BASELINE, BLOCKS_AVG, BLOCKS_CBAM, BLOCKS_MAX, FIRST_ON_NOISE, LAST, NOISY_BASELINE

POST_ACCURACY = {BASELINE: 84.53, LAST: 85.47, NOISY_BASELINE: 83.73, FIRST_ON_NOISE: 84.34}
"""The post's final test accuracy (%), one run each, at 112x112, batch 32, lr 0.01, 20 epochs."""

POST_ATTENTION = (0.985, 0.964, 0.911, 0.0066, 0.0051, 0.0070)
"""The post's mean input-gate score per channel (R, G, B, 3 noise) on 64 test images."""

PAPER_TOP1_ERROR = {BASELINE: 24.56, BLOCKS_AVG: 23.14, BLOCKS_MAX: 23.20, BLOCKS_CBAM: 22.80}
"""Woo et al. (2018), Table 1: ResNet-50 on ImageNet, top-1 error (%), without a gate and with each descriptor."""

PAPER_TOP1_ACCURACY = {configuration: 100 - error for configuration, error in PAPER_TOP1_ERROR.items()}
"""The same, as top-1 accuracy (100 minus the error), to sit beside our accuracies."""
