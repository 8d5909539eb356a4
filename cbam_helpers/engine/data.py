"""CIFAR-10 as in-memory uint8 tensors, from torchvision's release, an image folder or a .tar.gz of one.

The decoded tensors are cached in the package's cache folder (``CBAM_CACHE``, else
``~/.cache/cbam_helpers``), never inside the data source, so a second load takes a fraction of a second.
"""
import hashlib
import io
import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cbam_helpers.engine.atomic import save_atomically

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TORCHVISION_FOLDER = "cifar-10-batches-py"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class DatasetError(RuntimeError):
    """A data source exists but cannot be read (truncated, corrupt, wrong layout)."""


@dataclass
class CIFAR10:
    """Train and test images as uint8 (N, 3, 32, 32) tensors, labels as int64, and where they came from."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str

    def __repr__(self):
        return f"CIFAR10(train={len(self.train_labels)}, test={len(self.test_labels)}, source={self.source!r})"


def default_root():
    return Path(os.environ.get("CBAM_DATA") or Path.home() / ".cache" / "cbam_helpers" / "data")


def cache_dir():
    return Path(os.environ.get("CBAM_CACHE") or Path.home() / ".cache" / "cbam_helpers")


def load_cifar10(root=None, download=True):
    """Load CIFAR-10 from ``root`` (argument, else ``CBAM_DATA``, else a default folder).

    Looks, in order, for torchvision's release (``cifar-10-batches-py``), an image folder
    (``train/<class>/*``, ``test/<class>/*``) and a ``.tar.gz`` of that folder; with none there and
    ``download=True`` it fetches torchvision's release into ``root``.
    """
    root = Path(root) if root is not None else default_root()
    source = find_source(root)
    if source is None:
        if not download:
            raise FileNotFoundError(no_data_message(root, "download=False"))
        source = ("torchvision", root / TORCHVISION_FOLDER)
        try:
            download_torchvision(root)
        except Exception as exc:  # no network, a proxy, a full disk: all end the same way for the reader
            raise FileNotFoundError(no_data_message(root, f"the download failed ({exc})")) from exc
    kind, path = source
    cached = cache_dir() / f"cifar10-{source_key(kind, path)}.pt"
    if cached.exists():
        return CIFAR10(**torch.load(cached, weights_only=True, map_location="cpu"), source=describe(kind, path))
    tensors = READERS[kind](path)
    save_atomically(tensors, cached)
    return CIFAR10(**tensors, source=describe(kind, path))


def find_source(root):
    if root.is_file() and root.name.endswith(".tar.gz"):
        return ("archive", root)
    if (root / TORCHVISION_FOLDER).is_dir():
        return ("torchvision", root / TORCHVISION_FOLDER)
    if (root / "train").is_dir() and (root / "test").is_dir():
        return ("folder", root)
    if root.is_dir():
        archives = sorted(p for p in root.glob("*.tar.gz") if p.name != "cifar-10-python.tar.gz")
        if archives:
            return ("archive", archives[0])
    return None


def no_data_message(root, why):
    return (
        f"no CIFAR-10 found in {root} and {why}. Looked for torchvision's release ({root / TORCHVISION_FOLDER}), "
        f"an image folder ({root}/train/<class>/*, {root}/test/<class>/*) and a .tar.gz of that folder in {root}. "
        "Fix: connect to the internet and call load_cifar10(download=True), or point the root argument or the "
        "CBAM_DATA environment variable at a folder holding one of those forms."
    )


def describe(kind, path):
    return {
        "torchvision": "CIFAR-10, torchvision release",
        "folder": f"CIFAR-10 image folder {path.name}",
        "archive": f"CIFAR-10 archive {path.name}",
    }[kind]


def source_key(kind, path):
    """Identifies a source by its place, size and modification time, without reading it."""
    entries = [path] if path.is_file() else sorted(path.iterdir())
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in entries]
    return hashlib.sha256(repr((kind, str(path.resolve()), stats)).encode()).hexdigest()[:16]


def download_torchvision(root):
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    for train in (True, False):
        TorchvisionCIFAR10(root, train=train, download=True)


def read_torchvision(path):
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    tensors = {}
    for split, train in (("train", True), ("test", False)):
        dataset = TorchvisionCIFAR10(path.parent, train=train, download=False)
        tensors[f"{split}_images"] = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
        tensors[f"{split}_labels"] = torch.tensor(dataset.targets, dtype=torch.int64)
    return tensors


def read_folder(path):
    files = (
        (p.relative_to(path).as_posix(), p.read_bytes)
        for p in path.glob("*/*/*")
        if p.suffix.lower() in IMAGE_SUFFIXES
    )
    return stack_images(files, str(path))


def read_archive(path):
    def members():
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.isfile() and Path(member.name).suffix.lower() in IMAGE_SUFFIXES:
                    yield member.name, tar.extractfile(member).read

    try:
        return stack_images(members(), str(path))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DatasetError(
            f"could not read {path}: {exc}. The archive looks truncated or corrupt; fetch it again. "
            "Nothing was cached from it."
        ) from exc


def stack_images(files, where):
    """Decode (relative name, read) pairs laid out as <split>/<class>/<file> into sorted tensors."""
    from PIL import Image

    found = {"train": [], "test": []}
    for name, read in files:
        parts = Path(name).parts[-3:]
        if len(parts) != 3 or parts[0] not in found or parts[1] not in CLASSES:
            continue
        split, label, filename = parts
        with Image.open(io.BytesIO(read())) as image:
            pixels = np.asarray(image.convert("RGB"))
        if pixels.shape != (32, 32, 3):
            raise DatasetError(f"{name} in {where} is {pixels.shape[1]}x{pixels.shape[0]}, CIFAR-10 images are 32x32")
        found[split].append((CLASSES.index(label), filename, pixels))
    tensors = {}
    for split, items in found.items():
        if not items:
            raise DatasetError(f"{where} has no images under {split}/<class>/ for the classes {', '.join(CLASSES)}")
        items.sort(key=lambda item: item[:2])
        tensors[f"{split}_images"] = torch.from_numpy(np.stack([i[2] for i in items])).permute(0, 3, 1, 2).contiguous()
        tensors[f"{split}_labels"] = torch.tensor([i[0] for i in items], dtype=torch.int64)
    return tensors


READERS = {"torchvision": read_torchvision, "folder": read_folder, "archive": read_archive}
