"""Every placement exports to ONNX, and onnxruntime computes the logits PyTorch computes."""
import warnings

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from cbam_helpers import MobileNet

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")  # torch.onnx's exporter

PLACEMENTS = [("none", "cbam", 3, 1.0), ("first", "cbam", 6, 1.0), ("last", "cbam", 3, 1.0),
              ("blocks", "cbam-spatial", 3, 16), ("blocks", "eca", 3, 1.0)]
TOLERANCE = 1e-4
"""Largest difference allowed, relative to the largest logit: fp32 kernels of two runtimes differ in the order
of their sums, so agreement to about 1e-6 is typical and 1e-4 leaves room."""


@pytest.mark.parametrize("where, gate, channels, ratio", PLACEMENTS)
def test_onnxruntime_gives_pytorchs_logits(where, gate, channels, ratio, tmp_path):
    torch.manual_seed(0)
    model = MobileNet(where, input_channel=channels, reduction_ratio=ratio, gate=gate)
    with torch.no_grad():  # running statistics from a few batches: an untrained network's logits are ~1e-8
        for _ in range(3):
            model(torch.randn(16, channels, 64, 64))
        model.classifier[1].weight.mul_(100)  # logits of order 1, so that a relative error means something
    model.eval()
    x = torch.randn(2, channels, 64, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), dynamo=True).save(tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        expected = model(x).numpy()
    assert np.abs(expected).max() > 0.1
    assert np.abs(logits - expected).max() <= TOLERANCE * np.abs(expected).max()


def test_adaptive_max_pooling_equals_amax_forward_but_not_on_ties_backward():
    """The official code pools with ``F.max_pool2d`` over the whole map; this package with ``amax``. The values
    agree; where several positions tie for the maximum, max pooling sends the gradient to one of them and
    ``amax`` splits it evenly."""
    x = torch.randn(2, 5, 7, 7)
    torch.testing.assert_close(F.adaptive_max_pool2d(x, 1).flatten(1), x.amax((2, 3)))
    torch.testing.assert_close(F.max_pool2d(x, x.shape[2:]).flatten(1), x.amax((2, 3)))
    tied = torch.zeros(1, 1, 2, 2, requires_grad=True)  # four tied maxima, as after a ReLU
    F.adaptive_max_pool2d(tied, 1).sum().backward()
    assert sorted(tied.grad.flatten().tolist()) == [0.0, 0.0, 0.0, 1.0]
    tied.grad = None
    tied.amax((2, 3)).sum().backward()
    assert tied.grad.flatten().tolist() == [0.25] * 4
