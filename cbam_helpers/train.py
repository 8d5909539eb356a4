"""Training and evaluation: SGD with momentum, a checkpoint every epoch, exact resume.

Each epoch's randomness (batch order, flips, noise, dropout) is seeded from the run's seed and the
epoch number, so a run resumed from its last checkpoint ends with the same numbers as one that
was never interrupted.
"""
import math
import os
import time

import torch
from torch import nn
from tqdm.auto import tqdm

from .batches import batches, number_of_batches, prepare, seeded_generator
from .data import save_atomically

EVAL_BATCH = 256
PROBE_IMAGES = 64
PROBE_SEED = 2018  # fixes which 64 test images (and which noise) every run's attention is measured on


def choose_device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({torch.get_num_threads()} threads)" if device.type == "cpu" else device.type


def epoch_seed(seed, epoch, stream):
    """Independent, reproducible seeds per run, epoch and use (0: data, 1: dropout)."""
    return (seed * 1_000_003 + epoch) * 2 + stream


def autocast(device):
    """bf16 autocast on GPUs with native bf16 (compute capability 8.0 and up); fp32 elsewhere."""
    native_bf16 = device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=native_bf16)


def train_one_epoch(model, optimizer, data, *, epoch, seed, profile, noise_channels, device, progress):
    model.train()
    torch.manual_seed(epoch_seed(seed, epoch, 1))
    loss_fn = nn.CrossEntropyLoss()
    total_loss, correct, seen = 0.0, 0, 0
    steps = batches(data["train_images"], data["train_labels"], profile.batch_size, profile.resolution,
                    noise_channels, train=True, seed=epoch_seed(seed, epoch, 0))
    bar = tqdm(steps, total=number_of_batches(len(data["train_labels"]), profile.batch_size),
               desc=f"epoch {epoch + 1}", leave=False, disable=not progress)
    for batch, (x, y) in enumerate(bar):
        with autocast(device):
            logits = model(x)
            loss = loss_fn(logits, y)
        value = loss.item()
        if not math.isfinite(value):  # stop before a non-finite gradient reaches the weights
            raise FloatingPointError(
                f"the training loss became {value} at epoch {epoch + 1}, batch {batch + 1}; "
                f"lower the learning rate (now {profile.lr})"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += value * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        if batch % 10 == 0:
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    return total_loss / seen, correct / seen


@torch.no_grad()
def evaluate(model, images, labels, *, profile, noise_channels, device):
    """Loss and accuracy on a fixed set; its noise channels are the same at every evaluation."""
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total_loss, correct = 0.0, 0
    for x, y in batches(images, labels, EVAL_BATCH, profile.resolution, noise_channels, seed=PROBE_SEED):
        with autocast(device):
            logits = model(x)
        total_loss += loss_fn(logits.float(), y).item()
        correct += (logits.argmax(1) == y).sum().item()
    return total_loss / len(labels), correct / len(labels)


def probe_images(test_images, *, profile, noise_channels):
    """The fixed 64 random test images the attention scores are averaged over (the post's measurement)."""
    generator = seeded_generator(PROBE_SEED, test_images.device)
    index = torch.randperm(len(test_images), generator=generator, device=test_images.device)[:PROBE_IMAGES]
    return prepare(test_images[index], profile.resolution, noise_channels, generator)


@torch.no_grad()
def mean_attention(model, probe, device):
    """Mean score per channel over the probe images, or None for a model without a first/last gate."""
    if getattr(model, "attention_loc", None) not in ("first", "last"):
        return None
    model.eval()
    with autocast(device):
        _, scores = model(probe, return_score=True)
    return scores.float().mean(0).tolist()


def to_device(data, profile, device):
    """The profile's subsets of a CIFAR10 as tensors on the training device."""
    def subset(images, labels, size):
        if size is None or size >= len(labels):
            return images, labels
        index = torch.randperm(len(labels), generator=seeded_generator(0, "cpu"))[:size]
        return images[index], labels[index]

    train_images, train_labels = subset(data.train_images, data.train_labels, profile.train_images)
    test_images, test_labels = subset(data.test_images, data.test_labels, profile.test_images)
    tensors = dict(train_images=train_images, train_labels=train_labels,
                   test_images=test_images, test_labels=test_labels, probe_pool=data.test_images)
    return {k: v.to(device) for k, v in tensors.items()}


def fit(model, data, profile, *, seed, noise_channels, checkpoint, device=None, progress=True):
    """Train ``model`` on ``data`` (a CIFAR10) under ``profile``; return the per-epoch history.

    After every epoch the model, optimiser and history go to ``checkpoint``; when that file exists,
    training resumes after its last finished epoch.
    """
    device = device or choose_device()
    if device.type == "cpu":
        torch.set_num_threads(os.cpu_count())
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=profile.lr, momentum=profile.momentum)
    history = []
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = state["history"]
    tensors = to_device(data, profile, device)
    probe = probe_images(tensors["probe_pool"], profile=profile, noise_channels=noise_channels)
    epochs = tqdm(range(len(history), profile.epochs), initial=len(history), total=profile.epochs,
                  desc=f"{profile.name}: {model.attention_loc}, {3 + noise_channels} channels, seed {seed}",
                  disable=not progress)
    for epoch in epochs:
        start = time.perf_counter()
        train_loss, train_acc = train_one_epoch(model, optimizer, tensors, epoch=epoch, seed=seed, profile=profile,
                                                noise_channels=noise_channels, device=device, progress=progress)
        test_loss, test_acc = evaluate(model, tensors["test_images"], tensors["test_labels"], profile=profile,
                                       noise_channels=noise_channels, device=device)
        history.append(dict(
            epoch=epoch + 1, train_loss=train_loss, train_accuracy=train_acc, test_loss=test_loss,
            test_accuracy=test_acc, seconds=time.perf_counter() - start,
            attention=mean_attention(model, probe, device),
        ))
        epochs.set_postfix(test_acc=f"{test_acc:.4f}")
        save_atomically(dict(model=model.state_dict(), optimizer=optimizer.state_dict(), history=history), checkpoint)
    return history
