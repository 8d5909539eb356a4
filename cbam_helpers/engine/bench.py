"""Training throughput: the post's input pipeline against this package's, the pipeline's overhead, the gates' cost.

The post's pipeline reads the images with PIL, ``Resize(112)`` and ``ToTensor`` in a default DataLoader
(no worker processes), batch 32, fp32, NCHW: ``torchvision.datasets.CIFAR10`` for torchvision's release,
``ImageFolder`` for an image folder or an archive of one. Ours keeps uint8 tensors in memory and
normalises, resizes and flips whole batches on the device, channels_last, with autocast where the GPU
has it. Both train the same MobileNetV2 at the full profile's settings.

On a shared machine a single timing can be off by tens of percent, so the measurements run in
interleaved rounds (each configuration once per round) and the report gives medians with their range.
The gates' cost is timed on the gate alone (forward and backward on its real input shape), which
cannot come out negative, rather than as the difference of two noisy whole-step timings.
"""
import itertools
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

import torch

from cbam_helpers.nn.attention import ChannelGate
from cbam_helpers.engine.batches import prepare
from cbam_helpers.engine.data import default_root, find_source, load_cifar10
from cbam_helpers.nn.mobilenet import MobileNet
from cbam_helpers.engine.profiles import FULL
from cbam_helpers.engine.train import EVAL_BATCH, autocast, choose_device, device_name, grad_scaler, make_optimizer, training_step

WARMUP = 3


def extract_safely(tar, members, folder):
    """Extract regular-file ``members`` into ``folder``, refusing any that would land outside it.

    Python 3.12 and 3.11.4+ do this with ``filter="data"``; older ones (Debian 12's 3.11.2) lack the
    argument, so the same check (regular files only, no absolute path, no ``..``) is made here.
    """
    if hasattr(tarfile, "data_filter"):
        tar.extractall(folder, members=members, filter="data")
        return
    root = Path(folder).resolve()
    for member in members:
        target = (root / member.name).resolve()
        if not member.isfile() or not target.is_relative_to(root):
            raise tarfile.TarError(f"refusing to extract {member.name!r}: not a regular file inside {root}")
    tar.extractall(folder, members=members)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Trainer:
    """The training loop's own step (:func:`~cbam_helpers.engine.train.training_step`) on batches from ``source``.

    ``time(steps)`` returns seconds per step; the optimiser is the one :func:`~cbam_helpers.engine.train.fit` builds
    for ``profile``.
    """

    def __init__(self, model, source, device, mixed_precision=True, profile=FULL):
        self.model, self.source, self.device = model.to(device), iter(source), device
        self.optimizer, self.scheduler = make_optimizer(model, profile, steps_per_epoch=1)
        self.scaler = grad_scaler(device)
        self.mixed_precision = mixed_precision
        model.train()
        self.time(WARMUP)

    def step(self):
        x, y = next(self.source)
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        training_step(self.model, x, y, self.optimizer, self.scaler, self.device, mixed_precision=self.mixed_precision)

    def time(self, steps):
        synchronize(self.device)
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        synchronize(self.device)
        return (time.perf_counter() - start) / steps


def gate_seconds(gate, shape, device, steps):
    """Seconds of one forward and backward pass of ``gate`` alone on an input of ``shape``."""
    gate = gate.to(device)
    x = torch.randn(shape, device=device).contiguous(memory_format=torch.channels_last).requires_grad_()
    for step in range(WARMUP + steps):
        if step == WARMUP:
            synchronize(device)
            start = time.perf_counter()
        with autocast(device):
            out = gate(x)
        out.float().sum().backward()
    synchronize(device)
    return (time.perf_counter() - start) / steps


def post_dataset(root, folder, images):
    """The training images as PIL images with Resize(112) and ToTensor, from any data form.

    From an archive, only the first ``images`` training images are unpacked (into ``folder``).
    """
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.Resize(FULL.resolution), transforms.ToTensor()])
    kind, path = find_source(Path(root))
    if kind == "torchvision":
        return datasets.CIFAR10(path.parent, train=True, transform=transform)
    if kind == "archive":
        with tarfile.open(path, "r:gz") as tar:
            train = (m for m in tar if m.isfile() and m.name.startswith("train/"))
            extract_safely(tar, list(itertools.islice(train, images)), folder)
        path = Path(folder)
    return datasets.ImageFolder(path / "train", transform)


def forever(loader):
    while True:
        yield from loader


def our_batches(images, labels, device, profile=FULL):
    images, labels = images.to(device), labels.to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    while True:
        index = torch.randint(len(labels), (profile.batch_size,), device=device, generator=generator)
        yield prepare(images[index], profile.resolution, generator=generator, flip=True), labels[index]


def same_batch(images, labels, device, profile=FULL):
    """The bare model step: one prepared batch, reused, so no input pipeline is timed."""
    x, y = next(our_batches(images, labels, device, profile))
    while True:
        yield x, y


def estimate_run_seconds(profile, device, steps=5):
    """Seconds one run of ``profile`` takes on ``device``: timed training and evaluation steps of the baseline, scaled."""
    torch.manual_seed(0)
    images = torch.randint(0, 256, (max(profile.batch_size, EVAL_BATCH), 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(len(images)) % 10
    model = MobileNet("none").to(memory_format=torch.channels_last)
    train = Trainer(model, same_batch(images, labels, device, profile), device, profile=profile).time(steps)
    x = prepare(images[:EVAL_BATCH].to(device), profile.resolution)
    with torch.no_grad(), autocast(device):
        model.eval()
        synchronize(device)
        start = time.perf_counter()
        model(x)
        synchronize(device)
        evaluate = time.perf_counter() - start
    return run_seconds(profile, train, evaluate)


def run_seconds(profile, step_seconds, eval_batch_seconds):
    """Seconds of a run of ``profile`` at ``step_seconds`` per training step and ``eval_batch_seconds`` per
    evaluation batch of :data:`EVAL_BATCH`: every epoch trains over its images and evaluates the test set."""
    train_images = profile.train_images or 50_000
    test_images = profile.test_images or 10_000
    return profile.epochs * (train_images / profile.batch_size * step_seconds
                             + test_images / EVAL_BATCH * eval_batch_seconds)


def spread(values):
    return f"median {statistics.median(values):7.1f}, range {min(values):.1f}-{max(values):.1f}"


def main(rounds=5, steps=10, root=None):
    """Measure and print; return the medians (images per second, seconds, shares) as a dict."""
    device = choose_device()
    data = load_cifar10(root)  # downloads torchvision's release where there is no data yet
    root = root or default_root()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        needed = 2 * FULL.batch_size * (WARMUP + rounds * steps)
        loader = torch.utils.data.DataLoader(post_dataset(root, folder, needed), batch_size=FULL.batch_size,
                                             shuffle=True)
        trainers = {
            "post": Trainer(MobileNet("none"), forever(loader), device, mixed_precision=False),
            "ours": Trainer(MobileNet("none").to(memory_format=torch.channels_last),
                            our_batches(data.train_images, data.train_labels, device), device),
            "bare": Trainer(MobileNet("none").to(memory_format=torch.channels_last),
                            same_batch(data.train_images, data.train_labels, device), device),
        }
        seconds = {name: [] for name in trainers}
        for _ in range(rounds):  # interleaved: a slow spell of the machine hits every configuration alike
            for name, trainer in trainers.items():
                seconds[name].append(trainer.time(steps))
    last_map = -(-FULL.resolution // 32)  # MobileNetV2 downsamples by 32, rounding up: 4x4 at 112
    gates = {"first": (ChannelGate(3, 1.0), (FULL.batch_size, 3, FULL.resolution, FULL.resolution)),
             "last": (ChannelGate(1280, 1.0), (FULL.batch_size, 1280, last_map, last_map))}
    gate_times = {loc: [gate_seconds(g, shape, device, steps) for _ in range(rounds)] for loc, (g, shape) in gates.items()}

    ips = {name: [FULL.batch_size / s for s in values] for name, values in seconds.items()}
    median = {name: statistics.median(values) for name, values in seconds.items()}
    results = {f"{name}_images_per_second": FULL.batch_size / median[name] for name in median}
    results["ratio"] = median["post"] / median["ours"]
    results["pipeline_overhead"] = median["ours"] / median["bare"] - 1
    print(f"device: {device_name(device)}; torch {torch.__version__}; {rounds} interleaved rounds of {steps} steps, "
          f"batch {FULL.batch_size}, {FULL.resolution}x{FULL.resolution}")
    print(f"post's pipeline (PIL, Resize, ToTensor; fp32, NCHW):  {spread(ips['post'])} images/s")
    print(f"this package's pipeline (tensors, channels_last):    {spread(ips['ours'])} images/s")
    print(f"bare model step (one batch reused, no pipeline):      {spread(ips['bare'])} images/s")
    print(f"ratio, ours / post's: {results['ratio']:.2f}x")
    print(f"our pipeline's overhead over the bare step: {100 * results['pipeline_overhead']:+.1f}% "
          "(what a faster input pipeline could still gain)")
    for loc, values in gate_times.items():
        share = statistics.median(values) / median["bare"]
        results[f"share_{loc}"] = share
        print(f"gate '{loc}' (forward + backward on {tuple(gates[loc][1])}): {1000 * statistics.median(values):.2f} ms, "
              f"{100 * share:.1f}% of a bare training step")
    return results
