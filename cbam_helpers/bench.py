"""Training throughput of the post's input pipeline against this package's, and the gates' share of a step.

The post's pipeline: an ImageFolder read with PIL, ``Resize(112)`` and ``ToTensor`` in a DataLoader
(default settings: no worker processes), batch 32, fp32, NCHW tensors. Ours: uint8 tensors in memory,
batched normalise/resize/flip on the device, channels_last, bf16 autocast on CUDA. Both train the
same MobileNetV2 baseline at the full profile's settings.
"""
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from .batches import prepare
from .data import default_root, load_cifar10
from .mobilenet import MobileNet
from .profiles import FULL
from .train import autocast, choose_device, device_name

WARMUP = 3


def timed_steps(model, batch_source, steps, device):
    """Per-step wall times of ``steps`` SGD steps, after a warm-up; each includes producing its batch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=FULL.lr, momentum=FULL.momentum)
    model.train()
    times = []
    source = iter(batch_source)
    for step in range(WARMUP + steps):
        start = time.perf_counter()
        x, y = next(source)
        x, y = x.to(device), y.to(device)
        with autocast(device):
            loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= WARMUP:
            times.append(time.perf_counter() - start)
    return times


def post_pipeline(folder):
    from torchvision import datasets, transforms

    dataset = datasets.ImageFolder(folder, transforms.Compose([transforms.Resize(FULL.resolution),
                                                               transforms.ToTensor()]))
    return torch.utils.data.DataLoader(dataset, batch_size=FULL.batch_size, shuffle=True)


def extract_train_images(archive, folder, count):
    """The first ``count`` training images of an image-folder archive, unpacked for ImageFolder."""
    with tarfile.open(archive, "r:gz") as tar:
        taken = 0
        for member in tar:
            if member.isfile() and member.name.startswith("train/") and taken < count:
                tar.extract(member, folder, filter="data")
                taken += 1
    return Path(folder) / "train"


def our_pipeline(images, labels, device):
    images, labels = images.to(device), labels.to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    while True:
        index = torch.randint(len(labels), (FULL.batch_size,), device=device, generator=generator)
        yield prepare(images[index], FULL.resolution, generator=generator, flip=True), labels[index]


def main(steps=20, data=None, archive=None):
    device = choose_device()
    data = data or load_cifar10()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        archive = archive or next(default_root().glob("*.tar.gz"), None)
        if archive is None:
            raise FileNotFoundError("bench needs the CIFAR-10 image-folder archive (CBAM_DATA) for the post's pipeline")
        folder = extract_train_images(archive, tmp, FULL.batch_size * (WARMUP + steps) * 2)
        torch.manual_seed(0)
        post = timed_steps(MobileNet("none").to(device), post_pipeline(folder), steps, device)
        results["post"] = FULL.batch_size / statistics.median(post)
    step = {}
    for loc in ("none", "first", "last"):
        torch.manual_seed(0)
        model = MobileNet(loc).to(device, memory_format=torch.channels_last)
        step[loc] = statistics.median(timed_steps(model, our_pipeline(data.train_images, data.train_labels, device),
                                                  steps, device))
    results["ours"] = FULL.batch_size / step["none"]
    print(f"device: {device_name(device)}; torch {torch.__version__}; {steps} timed steps, median")
    print(f"post's pipeline (ImageFolder + PIL, fp32, NCHW): {results['post']:8.1f} images/s")
    print(f"this package's pipeline (tensors, channels_last): {results['ours']:8.1f} images/s")
    print(f"ratio: {results['ours'] / results['post']:.2f}x")
    for loc in ("first", "last"):
        share = (step[loc] - step["none"]) / step[loc]
        results[f"share_{loc}"] = share
        print(f"attention '{loc}': {100 * share:+.1f}% of a training step ({1000 * step[loc]:.0f} ms against "
              f"{1000 * step['none']:.0f} ms without)")
    return results
