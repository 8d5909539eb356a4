"""Training and evaluation: SGD with momentum, a checkpoint every epoch, exact resume.

Each epoch's randomness (batch order, flips, noise, dropout) is seeded from the run's seed and the
epoch number, so a run resumed from its last checkpoint ends with the same numbers as one that
was never interrupted.
"""
import math
import time

import torch
from torch import nn
from tqdm.auto import tqdm

from .attention import SpatialAttention
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
    """Weight decay on convolution and linear weights only: not on BatchNorm weights and biases (1-D tensors)."""
    decayed = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    plain = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return [dict(params=decayed, weight_decay=weight_decay), dict(params=plain, weight_decay=0.0)]


def make_optimizer(model, profile, steps_per_epoch):
    """SGD as the profile sets it, and a per-step scheduler that follows :meth:`Profile.lr_factor`."""
    optimizer = torch.optim.SGD(parameter_groups(model, profile.weight_decay), lr=profile.lr,
                                momentum=profile.momentum, nesterov=profile.nesterov)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: profile.lr_factor(step, steps_per_epoch))
    return optimizer, scheduler


def train_one_epoch(model, optimizer, scaler, data, *, epoch, seed, profile, noise_channels, device, progress,
                    signal=0.0, scheduler=None):
    model.train()
    torch.manual_seed(epoch_seed(seed, epoch, 1))
    loss_fn = nn.CrossEntropyLoss()
    total_loss, correct, seen = 0.0, 0, 0
    steps = batches(data["train_images"], data["train_labels"], profile.batch_size, profile.resolution,
                    noise_channels, train=True, seed=epoch_seed(seed, epoch, 0), signal=signal)
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
                f"lower the learning rate (now {optimizer.param_groups[0]['lr']:.4g})"
            )
        optimizer_step(loss, optimizer, scaler, scheduler)
        total_loss += value * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        if batch % 10 == 0:
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    return total_loss / seen, correct / seen


@torch.no_grad()
def evaluate(model, images, labels, *, profile, noise_channels, device, signal=0.0):
    """Loss and accuracy on a fixed set; its noise channels are the same at every evaluation."""
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total_loss, correct = 0.0, 0
    for x, y in batches(images, labels, EVAL_BATCH, profile.resolution, noise_channels, seed=PROBE_SEED,
                        signal=signal):
        with autocast(device):
            logits = model(x)
        total_loss += loss_fn(logits.float(), y).item()
        correct += (logits.argmax(1) == y).sum().item()
    return total_loss / len(labels), correct / len(labels)


def probe_images(test_images, *, profile, noise_channels, signal=0.0):
    """The fixed 64 random test images the attention scores are averaged over (the post's measurement).

    Returns the model's inputs and the images' uint8 pixels.
    """
    generator = seeded_generator(PROBE_SEED, test_images.device)
    index = torch.randperm(len(test_images), generator=generator, device=test_images.device)[:PROBE_IMAGES]
    pixels = test_images[index]
    return prepare(pixels, profile.resolution, noise_channels, generator, signal=signal), pixels


@torch.no_grad()
def attention_scores(model, probe, device):
    """Scores per probe image and channel (64, C), or None for a model without a first/last gate."""
    if getattr(model, "attention_loc", None) not in ("first", "last"):
        return None
    model.eval()
    with autocast(device):
        _, scores = model(probe, return_score=True)
    return None if scores is None else scores.float()


SPATIAL_PROBES = 8


@torch.no_grad()
def spatial_maps(model, probe, probe_pixels, device):
    """The spatial gates' maps on the first probe images: the first gate at each map size from 4x4 up.

    Returns ``None`` for a model without spatial gates, else ``dict(images, maps)``: the images as
    uint8 (3, 32, 32) lists and, per map size, ``dict(block, size, maps)`` with maps rounded to 3 decimals.
    """
    gates = [(name, m) for name, m in model.named_modules() if isinstance(m, SpatialAttention)]
    if not gates:
        return None
    captured = []
    hooks = [m.register_forward_hook(lambda m, i, out, name=name: captured.append((name, out))) for name, m in gates]
    model.eval()
    try:
        with autocast(device):
            model(probe[:SPATIAL_PROBES])
    finally:
        for hook in hooks:
            hook.remove()
    first_per_size = {}
    for name, out in captured:
        size = out.shape[-1]
        if size >= 4 and size not in first_per_size:
            maps = out[:, 0].float().cpu().round(decimals=3).tolist()
            first_per_size[size] = dict(block=name.split(".conv.")[0], size=size, maps=maps)
    return dict(images=probe_pixels[:SPATIAL_PROBES].cpu().tolist(), maps=list(first_per_size.values()))


def stem_norms(model):
    """L2 norm of the stem convolution's weights per input channel: how much the network listens to each."""
    weight = model.features[0][0].weight.detach().float()
    return weight.transpose(0, 1).flatten(1).norm(dim=1).tolist()


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
                   curve_images=curve_images, curve_labels=curve_labels, probe_pool=data.test_images)
    return {k: v.to(device) for k, v in tensors.items()}


def fit(model, data, profile, *, seed, noise_channels, checkpoint, device=None, progress=True, signal=0.0,
        label=None):
    """Train ``model`` on ``data`` (a CIFAR10) under ``profile``; return the per-epoch history.

    After every epoch the model, optimiser, scheduler and history go to ``checkpoint``; when that file
    exists, training resumes after its last finished epoch. The per-epoch ``test_accuracy`` is measured on
    the profile's curve subset of the test set (``test_images`` says how many); the last epoch also
    carries ``final_test_loss`` and ``final_test_accuracy`` on the whole test set.
    """
    device = device or choose_device()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = model.to(device, memory_format=torch.channels_last)
    tensors = to_device(data, profile, device)
    optimizer, scheduler = make_optimizer(model, profile, number_of_batches(len(tensors["train_labels"]),
                                                                             profile.batch_size))
    scaler = grad_scaler(device)
    history = []
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        if "scheduler" in state:
            scheduler.load_state_dict(state["scheduler"])
        history = state["history"]
    probe, probe_pixels = probe_images(tensors["probe_pool"], profile=profile, noise_channels=noise_channels,
                                       signal=signal)
    epochs = tqdm(range(len(history), profile.epochs), initial=len(history), total=profile.epochs,
                  desc=f"{profile.name}: {label or model.attention_loc}, seed {seed}",
                  disable=not progress)
    for epoch in epochs:
        start = time.perf_counter()
        train_loss, train_acc = train_one_epoch(model, optimizer, scaler, tensors, epoch=epoch, seed=seed, profile=profile,
                                                noise_channels=noise_channels, device=device, progress=progress,
                                                signal=signal, scheduler=scheduler)
        test_loss, test_acc = evaluate(model, tensors["curve_images"], tensors["curve_labels"], profile=profile,
                                       noise_channels=noise_channels, device=device, signal=signal)
        scores = attention_scores(model, probe, device)
        history.append(dict(
            epoch=epoch + 1, train_loss=train_loss, train_accuracy=train_acc, test_loss=test_loss,
            test_accuracy=test_acc, seconds=time.perf_counter() - start,
            attention=None if scores is None else scores.mean(0).tolist(),
            attention_std=None if scores is None else scores.std(0).tolist(),
            stem_norm=stem_norms(model), lr=optimizer.param_groups[0]["lr"],
        ))
        if profile.curve_test_images is not None:
            history[-1]["test_images"] = len(tensors["curve_labels"])
        epochs.set_postfix(test_acc=f"{test_acc:.4f}")
        save_atomically(dict(model=model.state_dict(), optimizer=optimizer.state_dict(), scaler=scaler.state_dict(),
                             scheduler=scheduler.state_dict(), history=history), checkpoint)
    if profile.curve_test_images is not None and "final_test_accuracy" not in history[-1]:
        final_loss, final_acc = evaluate(model, tensors["test_images"], tensors["test_labels"], profile=profile,
                                         noise_channels=noise_channels, device=device, signal=signal)
        history[-1].update(final_test_loss=final_loss, final_test_accuracy=final_acc)
    maps = spatial_maps(model, probe, probe_pixels, device)
    if maps is not None:
        history[-1]["spatial_maps"] = maps
    return history
