"""The benchmark runs from every data form load_cifar10 accepts and reports what it claims."""
import pickle

import numpy as np
import pytest
import torchvision

from cbam_helpers.engine import bench
from cbam_helpers.engine.data import CLASSES
from test_data import archive_of, image_folder, private_cache  # noqa: F401 (fixture)


def torchvision_release(root, per_batch=8):
    """A tiny cifar-10-batches-py folder in torchvision's pickle format."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 "labels": [i % 10 for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CLASSES)}))
    return root


def check(results):
    assert results["post_images_per_second"] > 0 and results["ours_images_per_second"] > 0
    assert results["ratio"] == pytest.approx(results["ours_images_per_second"] / results["post_images_per_second"])
    assert results["pipeline_overhead"] > -1
    assert results["share_first"] >= 0 and results["share_last"] >= 0


@pytest.mark.parametrize("form", ["folder", "archive", "torchvision"])
def test_bench_from_every_data_form(form, tmp_path, monkeypatch, capsys):
    if form == "torchvision":
        root = torchvision_release(tmp_path / "data")
        # the real release is checked against its published md5 sums, which a synthetic copy cannot match
        monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
        monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    elif form == "archive":
        root = tmp_path / "data"
        root.mkdir()
        archive_of(image_folder(tmp_path / "folder", per_class=4), root / "tiny.tar.gz")
    else:
        root = image_folder(tmp_path / "data", per_class=4)
    check(bench.main(rounds=1, steps=1, root=root))
    printed = capsys.readouterr().out
    for words in ("post's pipeline", "this package's pipeline", "bare model step", "ratio", "overhead",
                  "gate 'first'", "gate 'last'"):
        assert words in printed


def test_throughput_of_concurrent_jobs_is_set_by_the_slowest():
    from cbam_helpers.engine.throughput import aggregate, combined

    # three jobs of 10 steps of 32 images; the slowest took 4 s: 960 images in 4 s, 80 per job-second
    assert combined([2.0, 4.0, 3.0], steps=10, batch_size=32) == dict(images_per_second=240.0, per_job=80.0)
    row = aggregate(2, "smoke", steps=1)  # two real processes end to end
    assert row["jobs"] == 2 and row["per_job"] > 0


@pytest.mark.parametrize("has_filter", [True, False])
def test_extraction_refuses_members_outside_the_folder(has_filter, tmp_path, monkeypatch):
    """Both paths, Python's own ``filter="data"`` and the check made where that argument does not exist."""
    import io
    import tarfile

    if not has_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("train/cat/ok.png", "../escaped.png"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
    out = tmp_path / "out"
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        bench.extract_safely(tar, members[:1], out)
        assert (out / "train/cat/ok.png").read_bytes() == b"abc"
        with pytest.raises(tarfile.TarError):
            bench.extract_safely(tar, members[1:], out)
    assert not (tmp_path / "escaped.png").exists()
