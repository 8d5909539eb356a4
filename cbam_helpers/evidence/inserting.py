"""Gates put into a network that is already trained, and the short fine-tune after them.

A sigmoid gate starts near 0.5: put into every block of a trained MobileNetV2, it halves what each block
passes on, and the batch norms downstream, still holding the trained statistics, see features at a scale
they were not trained for. How the gate starts decides what is left of the training:

- ``fresh``: PyTorch's initialisation, as a reader gets it from ``GATES["cbam"]``;
- ``open``: the MLP's output layer zeroed and its bias set so that every score starts at :data:`OPEN_SCORE`;
- ``identity``: a residual gate ``F + F * (2 Mc(F) - 1)`` with the output layer zeroed, which is the
  trained network exactly until the fine-tune moves the MLP;
- ``no gate``: the trained network fine-tuned the same way, the control.
"""
import copy
import json
import math
import platform
import time

import torch
from torch import nn

from cbam_helpers.nn.attention import ResidualChannelGate
from cbam_helpers.engine.atomic import write_json
from cbam_helpers.engine.configs import BASELINE
from cbam_helpers.nn.mobilenet import MobileNet, gated_blocks
from cbam_helpers.engine.profiles import ANNEALED
from cbam_helpers.engine.records import load_network, located
from cbam_helpers.engine.train import choose_device, device_name, evaluate, fit, to_device

STARTS = ("no gate", "fresh", "open", "identity")
OPEN_SCORE = 0.99
FINE_TUNE = ANNEALED.but(name="fine-tune", epochs=4, train_images=3_200, lr=0.004, warmup_epochs=0.0)
"""Four passes over a fixed 3,200-image subset (400 steps of 32), peak lr 0.004 (a fifth of the annealed
profile's) falling by half a cosine to zero; the curve on the annealed profile's 2,000 curve images."""


def with_gates(trained, start="fresh", reduction_ratio=16, seed=0):
    """A ``blocks`` copy of ``trained`` (a MobileNet without gates): its weights, and a new CBAM channel gate in
    every block, started as ``start`` says (module docstring). ``seed`` fixes the fresh gates' weights."""
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}, got {start!r}")
    if trained.attention_loc != "none":
        raise ValueError(f"gates go into a network without any; this one has attention_loc="
                         f"{trained.attention_loc!r}")
    shape = dict(input_channel=trained.features[0][0].in_channels,
                 num_classes=trained.classifier[-1].out_features)
    if start == "no gate":
        return copy.deepcopy(trained)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        network = MobileNet("blocks", reduction_ratio=reduction_ratio, **shape)
        for block in gated_blocks(network):
            if start == "identity":  # the output layer zeroed: every score 0.5, times 2
                block.conv[-1] = ResidualChannelGate(block.out_channels, reduction_ratio)
            elif start == "open":
                output = block.conv[-1].channel_gate.mlp[-1]
                nn.init.zeros_(output.weight)
                # the two descriptors' outputs are summed: each carries half the logit
                nn.init.constant_(output.bias, math.log(OPEN_SCORE / (1 - OPEN_SCORE)) / 2)
    missing, unexpected = network.load_state_dict(trained.state_dict(), strict=False)
    assert not unexpected and all(".channel_gate." in key for key in missing), (missing, unexpected)
    return network


def inserted_path(start, seed, results=None):
    """Where a fine-tune's record is (the first results folder that has it), else where it is written."""
    return located(f"{ANNEALED.name}/inserted/{start.replace(' ', '-')}-seed{seed}.json", results)


def fine_tune(start, seed, data, *, profile=FINE_TUNE, results=None, device=None, progress=True):
    """Insert gates into the shipped ``none`` network (annealed, seed 0) as ``start`` says, measure the curve
    accuracy, fine-tune under ``profile`` at ``seed`` and write the record; read it when it exists. An
    interrupted fine-tune resumes from its last finished pass."""
    path = inserted_path(start, seed, results)
    if path.exists():
        return json.loads(path.read_text())
    device = device or choose_device()
    trained = load_network(BASELINE, seed=0, profile=ANNEALED)
    network = with_gates(trained, start, seed=seed).to(device)
    curve = to_device(data, profile, device)
    measure = dict(profile=profile, inputs=BASELINE.inputs, device=device)
    _, trained_accuracy = evaluate(trained.to(device), curve["curve_images"], curve["curve_labels"], **measure)
    _, inserted_accuracy = evaluate(network, curve["curve_images"], curve["curve_labels"], **measure)
    checkpoint = path.with_name("checkpoints") / path.name.replace(".json", ".pt")
    begun = time.perf_counter()
    history = fit(network, data, profile, seed=seed, checkpoint=checkpoint, device=device, progress=progress,
                  label=f"gates inserted, {start}")
    last = history[-1]
    record = dict(start=start, seed=seed, network="annealed none, seed 0", profile=profile.as_dict(),
                  open_score=OPEN_SCORE, trained_accuracy=trained_accuracy, inserted_accuracy=inserted_accuracy,
                  history=history, test_accuracy=last.get("final_test_accuracy", last["test_accuracy"]),
                  wall_seconds=time.perf_counter() - begun, device=device_name(device), torch=torch.__version__,
                  python=platform.python_version(), data=data.source, finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    write_json(record, path)
    checkpoint.unlink(missing_ok=True)
    return record
