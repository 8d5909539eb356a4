"""The training loop: SGD as the profile sets it, a checkpoint every epoch, exact resume.

Each epoch's randomness (batch order, flips, extra channels, dropout) is seeded from the run's seed and
the epoch number, so a run resumed from its last checkpoint ends with the same numbers as one that was
never interrupted. What the book measures besides accuracy comes in as probes (:mod:`.probes`).
"""
import contextlib
import math
import time

import torch
from torch import nn
from tqdm.auto import tqdm

from cbam_helpers.engine.batches import RGB, batches, number_of_batches, seeded_generator
from cbam_helpers.engine.checkpoints import restore_checkpoint, save_checkpoint

EVAL_BATCH = 256
EVAL_SEED = 2018  # fixes the extra channels of every evaluation, so each one sees the same inputs


def choose_device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu ({threads} thread{'s' if threads > 1 else ''})"
    return device.type


def epoch_seed(seed, epoch, stream):
    """Independent, reproducible seeds per run, epoch and use (0: data, 1: dropout)."""
    return (seed * 1_000_003 + epoch) * 2 + stream


def autocast_dtype(device):
    """bf16 on GPUs with native bf16 (compute capability 8.0 and up), fp16 on older CUDA GPUs, else None (fp32)."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16


def precision_name(device):
    return {None: "fp32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast"}[autocast_dtype(device)]


def autocast(device):
    dtype = autocast_dtype(device)
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def grad_scaler(device, enabled=None):
    """A gradient scaler, on only for fp16: its gradients underflow without one (bf16 keeps fp32's range)."""
    if enabled is None:
        enabled = autocast_dtype(device) == torch.float16
    return torch.amp.GradScaler(device.type, enabled=enabled)


def optimizer_step(loss, optimizer, scaler, scheduler=None):
    """Backward and step through the scaler: a step whose gradients hold an inf or NaN is skipped."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    if scheduler is not None:
        scheduler.step()


def parameter_groups(model, weight_decay):
    """Weight decay on convolution and linear weights only: not on BatchNorm weights and biases (1-D tensors),
    nor on any parameter of a module whose ``decays`` is False (a gate built to go undecayed)."""
    exempt = {id(p) for m in model.modules() if getattr(m, "decays", True) is False for p in m.parameters()}
    trained = [p for p in model.parameters() if p.requires_grad]
    decayed = [p for p in trained if p.ndim > 1 and id(p) not in exempt]
    plain = [p for p in trained if p.ndim <= 1 or id(p) in exempt]
    return [dict(params=decayed, weight_decay=weight_decay), dict(params=plain, weight_decay=0.0)]


def make_optimizer(model, profile, steps_per_epoch):
    """SGD as the profile sets it, and a per-step scheduler that follows :meth:`Profile.lr_factor`."""
    optimizer = torch.optim.SGD(parameter_groups(model, profile.weight_decay), lr=profile.lr,
                                momentum=profile.momentum, nesterov=profile.nesterov)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: profile.lr_factor(step, steps_per_epoch))
    return optimizer, scheduler


def training_step(model, x, y, optimizer, scaler, device, scheduler=None, mixed_precision=True):
    """One SGD step on a batch; returns the loss (a float) and the logits. The benchmark times this same step."""
    with autocast(device) if mixed_precision else contextlib.nullcontext():
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
    value = loss.item()
    if not math.isfinite(value):  # stop before a non-finite gradient reaches the weights
        raise FloatingPointError(f"the training loss became {value}")
    optimizer_step(loss, optimizer, scaler, scheduler)
    return value, logits


def train_one_epoch(model, optimizer, scaler, data, *, epoch, seed, profile, inputs, device, progress,
                    scheduler=None):
    model.train()
    torch.manual_seed(epoch_seed(seed, epoch, 1))
    total_loss, correct, seen = 0.0, 0, 0
    steps = batches(data["train_images"], data["train_labels"], profile.batch_size, profile.resolution, inputs,
                    train=True, seed=epoch_seed(seed, epoch, 0))
    bar = tqdm(steps, total=number_of_batches(len(data["train_labels"]), profile.batch_size),
               desc=f"epoch {epoch + 1}", leave=False, disable=not progress)
    for batch, (x, y) in enumerate(bar):
        try:
            value, logits = training_step(model, x, y, optimizer, scaler, device, scheduler)
        except FloatingPointError as error:
            raise FloatingPointError(f"{error} at epoch {epoch + 1}, batch {batch + 1}; lower the learning rate "
                                     f"(now {optimizer.param_groups[0]['lr']:.4g})") from None
        total_loss += value * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        if batch % 10 == 0:
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    return total_loss / seen, correct / seen


@torch.no_grad()
def evaluate(model, images, labels, *, profile, inputs, device):
    """Loss and accuracy on a fixed set; its extra channels are the same at every evaluation."""
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total_loss, correct = 0.0, 0
    for x, y in batches(images, labels, EVAL_BATCH, profile.resolution, inputs, seed=EVAL_SEED):
        with autocast(device):
            logits = model(x)
        total_loss += loss_fn(logits.float(), y).item()
        correct += (logits.argmax(1) == y).sum().item()
    return total_loss / len(labels), correct / len(labels)


def to_device(data, profile, device):
    """The profile's subsets of a CIFAR10 as tensors on the training device."""
    def subset(images, labels, size):
        if size is None or size >= len(labels):
            return images, labels
        index = torch.randperm(len(labels), generator=seeded_generator(0, "cpu"))[:size]
        return images[index], labels[index]

    train_images, train_labels = subset(data.train_images, data.train_labels, profile.train_images)
    test_images, test_labels = subset(data.test_images, data.test_labels, profile.test_images)
    curve_images, curve_labels = subset(test_images, test_labels, profile.curve_test_images)
    tensors = dict(train_images=train_images, train_labels=train_labels,
                   test_images=test_images, test_labels=test_labels,
                   curve_images=curve_images, curve_labels=curve_labels)
    return {k: v.to(device) for k, v in tensors.items()}


def fit(model, data, profile, *, seed, checkpoint, inputs=RGB, probes=(), device=None, progress=True, label=None):
    """Train ``model`` on ``data`` (a CIFAR10) under ``profile``; return the per-epoch history (a list of dicts).

    After every epoch the model, optimiser, scheduler and history go to ``checkpoint``; when that file
    exists, training resumes after its last finished epoch. The per-epoch ``test_accuracy`` is measured on
    the profile's curve subset of the test set (``test_images`` says how many); the last epoch also
    carries ``final_test_loss`` and ``final_test_accuracy`` on the whole test set. Each probe's
    ``after_epoch`` fields join every epoch, its ``after_training`` fields the last one.
    """
    device = device or choose_device()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = model.to(device, memory_format=torch.channels_last)
    tensors = to_device(data, profile, device)
    steps_per_epoch = number_of_batches(len(tensors["train_labels"]), profile.batch_size)
    optimizer, scheduler = make_optimizer(model, profile, steps_per_epoch)
    scaler = grad_scaler(device)
    history = restore_checkpoint(checkpoint, model, optimizer, scaler, scheduler, device)
    epochs = tqdm(range(len(history), profile.epochs), initial=len(history), total=profile.epochs,
                  desc=f"{profile.name}: {label or model.attention_loc}, seed {seed}", disable=not progress)
    for epoch in epochs:
        start = time.perf_counter()
        train_loss, train_acc = train_one_epoch(model, optimizer, scaler, tensors, epoch=epoch, seed=seed,
                                                profile=profile, inputs=inputs, device=device, progress=progress,
                                                scheduler=scheduler)
        test_loss, test_acc = evaluate(model, tensors["curve_images"], tensors["curve_labels"], profile=profile,
                                       inputs=inputs, device=device)
        history.append(dict(epoch=epoch + 1, train_loss=train_loss, train_accuracy=train_acc, test_loss=test_loss,
                            test_accuracy=test_acc, seconds=time.perf_counter() - start))
        for probe in probes:
            history[-1].update(probe.after_epoch(model))
        history[-1]["lr"] = optimizer.param_groups[0]["lr"]
        if profile.curve_test_images is not None:
            history[-1]["test_images"] = len(tensors["curve_labels"])
        epochs.set_postfix(test_acc=f"{test_acc:.4f}")
        save_checkpoint(checkpoint, model, optimizer, scaler, scheduler, history)
    if profile.curve_test_images is not None and "final_test_accuracy" not in history[-1]:
        final_loss, final_acc = evaluate(model, tensors["test_images"], tensors["test_labels"], profile=profile,
                                         inputs=inputs, device=device)
        history[-1].update(final_test_loss=final_loss, final_test_accuracy=final_acc)
    for probe in probes:
        history[-1].update(probe.after_training(model))
    return history
