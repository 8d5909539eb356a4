"""The small feature map and hand-set MLP weights that chapters 1 and 2 compute with."""
import torch

FEATURES = torch.tensor([[
    [[1.0, 2.0], [3.0, 6.0]],      # channel 0: a broad, strong response
    [[0.0, 0.0], [0.0, 8.0]],      # channel 1: one sharp peak, small on average
    [[1.0, 1.0], [1.0, 1.0]],      # channel 2: flat
]])
"""F with B=1, C=3, H=W=2."""

REDUCTION_RATIO = 1.5
"""int(3 / 1.5) = 2 hidden units."""

WEIGHTS = {
    "mlp.0.weight": torch.tensor([[0.5, 0.5, -1.0], [-0.5, 0.25, 0.0]]),
    "mlp.0.bias": torch.tensor([0.0, 0.5]),
    "mlp.2.weight": torch.tensor([[1.0, -1.0], [0.5, 1.0], [-1.0, 0.0]]),
    "mlp.2.bias": torch.tensor([0.0, -1.0, 0.5]),
}
"""W0 (2 x 3), b0, W1 (3 x 2), b1, under the state-dict keys of ChannelAttention."""
