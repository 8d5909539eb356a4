"""What a gate costs in a network: parameters, FLOPs (``torch.utils.flop_counter``) and the time of whole
training steps, timed in interleaved rounds, so that a gate's price is read against the same network without it.
The networks are :mod:`cbam_helpers.nn.placements`'."""
import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cbam_helpers.nn.mobilenet import count_parameters


def flops_per_image(model, size):
    """Forward FLOPs for one ``size`` x ``size`` image, as ``FlopCounterMode`` counts them (matmuls, convolutions)."""
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:  # not under no_grad: the counter's module tracker hooks into autograd
        model(torch.randn(1, 3, size, size))
    return counter.get_total_flops()


def step_seconds(models, size, batch, rounds=3, steps=2, warmup=1, seed=0, clock=time.process_time):
    """Median seconds of one SGD training step per model, the models timed in interleaved rounds.

    A model with an ``input_channel`` attribute other than 3 (:class:`~cbam_helpers.MobileNet`) is fed that many
    channels. ``clock`` is the process's CPU time by default, on one thread: on a machine that runs other work it counts
    what the step itself computes, where wall time would count the waiting too (pass ``time.perf_counter``
    for wall time on a quiet machine).

    Interleaving, in a shuffled order each round, spreads whatever else the machine does over every model
    alike; the median of the rounds is robust to a round that caught a hiccup.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, size, size, generator=generator)
    y = torch.randint(10, (batch,), generator=generator)
    by_channels = {3: x}  # a model with an ``input_channel`` other than 3 gets that many channels, RGB first
    for model in models.values():
        channels = getattr(model, "input_channel", 3)
        if channels not in by_channels:
            extra = torch.randn(batch, channels - 3, size, size, generator=generator)
            by_channels[channels] = torch.cat((x, extra), 1)
    trainers = {name: (model.train(), torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
                for name, model in models.items()}

    def step(model, optimizer):
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(by_channels[getattr(model, "input_channel", 3)]), y).backward()
        optimizer.step()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return interleaved(trainers, step, rounds, steps, warmup, seed, clock)
    finally:
        torch.set_num_threads(threads)


def interleaved(trainers, step, rounds, steps, warmup, seed, clock):
    for model, optimizer in trainers.values():
        for _ in range(warmup):
            step(model, optimizer)
    times = {name: [] for name in trainers}
    order = list(trainers)
    shuffle = torch.Generator().manual_seed(seed + 1)
    for _ in range(rounds):  # a fresh order each round, so no model always follows the same one
        for name in [order[i] for i in torch.randperm(len(order), generator=shuffle)]:
            model, optimizer = trainers[name]
            start = clock()
            for _ in range(steps):
                step(model, optimizer)
            times[name].append((clock() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


AGAIN = "no gate (again)"
"""A second copy of the network without a gate, timed like the others: the yardstick of the timing's noise."""


def gate_costs(build, gates, size=64, batch=16, rounds=5, steps=2):
    """One row per gate, after the network without one and a second copy of it (:data:`AGAIN`): parameters,
    forward FLOPs per image and CPU milliseconds per training step, each also as a change from the first copy."""
    import pandas as pd

    torch.manual_seed(0)
    models = {"no gate": build(None), AGAIN: build(None), **{name: build(name) for name in gates}}
    seconds = step_seconds(models, size, batch, rounds, steps)
    frame = pd.DataFrame([dict(gate=name, parameters=count_parameters(model),
                               mflops=flops_per_image(model, size) / 1e6, step_ms=1000 * seconds[name])
                          for name, model in models.items()])
    base = frame.iloc[0]
    frame["added parameters"] = frame.parameters - base.parameters
    frame["FLOPs (%)"] = 100 * (frame.mflops / base.mflops - 1)
    frame["step time (%)"] = 100 * (frame.step_ms / base.step_ms - 1)
    return frame
