"""Numbers reported by others, never by our runs: the post the book follows, the CBAM paper and the ECA paper.

Keyed by the configurations of :mod:`.configs` that correspond to them.
"""
from cbam_helpers.engine.configs import (BASELINE, BLOCKS_AVG, BLOCKS_CBAM, BLOCKS_ECA, BLOCKS_MAX, BLOCKS_SPATIAL, FIRST_ON_NOISE,
                      LAST, NOISY_BASELINE)

POST_ACCURACY = {BASELINE: 84.53, LAST: 85.47, NOISY_BASELINE: 83.73, FIRST_ON_NOISE: 84.34}
"""The post's final test accuracy (%), one run each, at 112x112, batch 32, lr 0.01, 20 epochs."""

POST_ATTENTION = (0.985, 0.964, 0.911, 0.0066, 0.0051, 0.0070)
"""The post's mean input-gate score per channel (R, G, B, 3 noise) on 64 test images."""

PAPER_TOP1_ERROR = {BASELINE: 24.56, BLOCKS_AVG: 23.14, BLOCKS_MAX: 23.20, BLOCKS_CBAM: 22.80}
"""Woo et al. (2018), Table 1: ResNet-50 on ImageNet, top-1 error (%), without a gate and with each descriptor."""

PAPER_TOP1_ACCURACY = {configuration: 100 - error for configuration, error in PAPER_TOP1_ERROR.items()}
"""The same, as top-1 accuracy (100 minus the error), to sit beside our accuracies."""

PAPER_SPATIAL_TOP1_ERROR = 22.66
"""Woo et al. (2018), Table 3: ResNet-50 on ImageNet with the channel gate followed by the spatial gate (full CBAM),
top-1 error (%), on the protocol of Table 1."""

ECA_PAPER_TOP1_ACCURACY = {
    "ResNet-50": {BASELINE: 75.20, BLOCKS_AVG: 76.71, BLOCKS_SPATIAL: 77.34, BLOCKS_ECA: 77.48},
    "MobileNetV2": {BASELINE: 71.64, BLOCKS_AVG: 72.42, BLOCKS_ECA: 72.56},
}
"""Wang et al. (2020), Table 2: ImageNet top-1 accuracy (%) of each backbone without a gate, with SE, with CBAM
(channel and spatial; ResNet-50 only) and with ECA, as that paper reports them."""
