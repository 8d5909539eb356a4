import io
import os
import tarfile
import time

import numpy as np
import pytest
import torch
from PIL import Image

from cbam_helpers.engine.batches import MEAN, STD, RGB, InputSpec, add_noise_channels, batches, prepare
from cbam_helpers.engine.data import CLASSES, DatasetError, load_cifar10


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CBAM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CBAM_DATA", raising=False)


def png_bytes(value):
    buffer = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), value, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def image_folder(root, per_class=2):
    """A tiny CIFAR-10 image folder; each image's pixel value encodes split, class and index."""
    for split_index, split in enumerate(("train", "test")):
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                (folder / f"{i:04d}.png").write_bytes(png_bytes(100 * split_index + 10 * label + i))
    return root


def archive_of(folder, path):
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            tar.add(folder / split, arcname=split)
    return path


def test_image_folder(tmp_path):
    data = load_cifar10(image_folder(tmp_path / "cifar"), download=False)
    assert data.train_images.shape == (20, 3, 32, 32) and data.train_images.dtype == torch.uint8
    assert data.test_labels.tolist() == [label for label in range(10) for _ in range(2)]
    assert data.train_images[3, 0, 0, 0].item() == 11  # class 1, image 1
    assert data.test_images[0, 0, 0, 0].item() == 100
    assert "image folder" in data.source


def test_archive_is_cached_outside_the_source(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    archive_of(image_folder(tmp_path / "cifar"), source / "cifar10-jpeg.tar.gz")
    os.chmod(source, 0o555)  # the data source is read-only, as ../shared is
    try:
        first = load_cifar10(source, download=False)
        assert list((tmp_path / "cache").glob("cifar10-*.pt"))
        start = time.perf_counter()
        second = load_cifar10(source, download=False)
        assert time.perf_counter() - start < 2
    finally:
        os.chmod(source, 0o755)
    assert sorted(p.name for p in source.iterdir()) == ["cifar10-jpeg.tar.gz"]
    assert torch.equal(first.train_images, second.train_images)
    assert "archive" in first.source


def test_truncated_archive_is_refused_and_not_cached(tmp_path):
    archive = archive_of(image_folder(tmp_path / "cifar"), tmp_path / "whole.tar.gz")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "cifar10-jpeg.tar.gz").write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        load_cifar10(broken, download=False)
    assert not list((tmp_path / "cache").glob("*.pt"))


def test_no_data_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no CIFAR-10 found in .*empty.*CBAM_DATA"):
        load_cifar10(tmp_path / "empty", download=False)


def test_environment_variable_is_the_default_root(tmp_path, monkeypatch):
    monkeypatch.setenv("CBAM_DATA", str(image_folder(tmp_path / "cifar")))
    assert len(load_cifar10(download=False).train_labels) == 20


REAL_DATA = os.environ.get("CBAM_DATA")


@pytest.mark.skipif(not REAL_DATA, reason="CBAM_DATA does not point at a CIFAR-10 copy (make test sets it when ../shared has one)")
def test_real_copy(monkeypatch):
    monkeypatch.setenv("CBAM_DATA", REAL_DATA)
    monkeypatch.delenv("CBAM_CACHE")  # the shared cache: the whole set decodes once per machine
    data = load_cifar10(download=False)
    assert data.train_images.shape == (50_000, 3, 32, 32) and data.test_images.shape == (10_000, 3, 32, 32)
    assert data.train_labels.bincount().tolist() == [5_000] * 10
    assert data.test_labels.bincount().tolist() == [1_000] * 10
    mean = data.train_images.float().mean((0, 2, 3)) / 255
    assert (mean - torch.tensor(MEAN)).abs().max() < 0.003


def test_add_noise_channels():
    x = torch.zeros(64, 3, 16, 16)
    generator = torch.Generator().manual_seed(0)
    noisy = add_noise_channels(x, 3, generator=generator)
    assert noisy.shape == (64, 6, 16, 16)
    assert torch.equal(noisy[:, :3], x)
    assert abs(noisy[:, 3:].mean().item()) < 0.02 and abs(noisy[:, 3:].std().item() - 1) < 0.02
    assert not torch.equal(add_noise_channels(x, 3)[:, 3:], add_noise_channels(x, 3)[:, 3:])
    with pytest.raises(ValueError, match="4-D"):
        add_noise_channels(torch.zeros(3, 16, 16))


def test_prepare_normalises_and_resizes():
    images = torch.full((2, 3, 32, 32), 255, dtype=torch.uint8)
    x = prepare(images, resolution=64)
    assert x.shape == (2, 3, 64, 64) and x.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(x[0, :, 0, 0], (1 - torch.tensor(MEAN)) / torch.tensor(STD))


def test_training_batches_cover_the_set_and_flip():
    images = torch.arange(10, dtype=torch.uint8).repeat_interleave(3 * 32 * 32).view(10, 3, 32, 32).clone()
    images[:, :, :, 0] = 0  # left column dark: a flip moves it to the right
    labels = torch.arange(10)
    seen = [(x, y) for x, y in batches(images, labels, 4, 32, InputSpec(2), train=True, seed=1)]
    assert sorted(torch.cat([y for _, y in seen]).tolist()) == list(range(10))
    assert [x.shape[1] for x, _ in seen] == [5, 5, 5]
    flipped = torch.cat([x[:, 0, 0, -1] < x[:, 0, 0, 1] for x, _ in seen])
    assert 0 < flipped.sum() < 10
    again = [y for _, y in batches(images, labels, 4, 32, InputSpec(2), train=True, seed=1)]
    assert torch.equal(torch.cat(again), torch.cat([y for _, y in seen]))


def test_extra_channels_with_signal():
    x = torch.randn(16, 3, 8, 8)
    gray = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    copy = add_noise_channels(x, 2, signal=1.0)
    torch.testing.assert_close(copy[:, 3], gray)
    torch.testing.assert_close(copy[:, 4], gray)
    # rho = 0 is the pure noise of chapter 5, draw for draw
    pure = add_noise_channels(x, 2, generator=torch.Generator().manual_seed(3))
    mixed = add_noise_channels(x, 2, generator=torch.Generator().manual_seed(3), signal=0.5)
    torch.testing.assert_close(mixed[:, 3:], 0.5 * gray[:, None] + 0.75**0.5 * pure[:, 3:])
    assert torch.equal(add_noise_channels(x, 2, generator=torch.Generator().manual_seed(3), signal=0.0), pure)
    with pytest.raises(ValueError, match="between 0 and 1"):
        add_noise_channels(x, 2, signal=1.5)


def test_input_spec_says_what_the_network_sees():
    assert RGB.channels == 3 and RGB.label == "RGB" and RGB.channel_names == ("R", "G", "B")
    noise = InputSpec(3)
    assert noise.channels == 6 and noise.label == "RGB + 3 noise" and noise.channel_names[3:] == ("noise 1", "noise 2", "noise 3")
    gray = InputSpec(3, signal=0.5)
    assert gray.label == "RGB + 3 gray (rho=0.5)" and gray.channel_names[-1] == "gray 3"
    x = torch.randn(2, 3, 8, 8)
    assert RGB.append(x) is x
    generator = torch.Generator().manual_seed(3)
    assert torch.equal(gray.append(x, generator), add_noise_channels(x, 3, torch.Generator().manual_seed(3), 0.5))
    for bad, words in ((dict(extra_channels=-1), "extra_channels"), (dict(extra_channels=2.0), "extra_channels"),
                       (dict(extra_channels=3, signal=1.5), "signal"), (dict(signal=0.5), "needs extra channels")):
        with pytest.raises(ValueError, match=words):
            InputSpec(**bad)
