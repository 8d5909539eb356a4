import json

import pytest
import torch

import cbam_helpers.engine.train as train_module
from cbam_helpers.cli import main as cli_main
from cbam_helpers.engine.data import CIFAR10
from cbam_helpers.evidence.experiments import run_configs
from cbam_helpers.engine.profiles import PROFILES, Profile, get_profile
from cbam_helpers.engine.batches import InputSpec
from cbam_helpers.engine.configs import BASELINE, LAST, Configuration, RunConfig
from cbam_helpers.engine.records import Record, checkpoint_path, load_records, record_path, run
from cbam_helpers.display.tables import summary
from cbam_helpers.engine.atomic import write_json
from fakes import fake_record

TINY = Profile("tiny", resolution=32, batch_size=16, lr=0.01, epochs=2, train_images=48, test_images=32)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (80, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.arange(80) % 10
    return CIFAR10(images[:60], labels[:60], images[60:], labels[60:], source="synthetic")


def run_config(attention_loc, extra_channels, seed, profile, signal=0.0, **fields):
    return Configuration(attention_loc, inputs=InputSpec(extra_channels, signal), **fields).at(seed, profile)


def strip(record):
    """A run's history without its timings: what must repeat exactly."""
    return [{k: v for k, v in vars(e).items() if k != "seconds"} for e in record.history]


def run_tiny(config, data, tmp_path, **kwargs):
    return run(config, data, results=tmp_path, device=CPU, progress=False, **kwargs)


def test_record_contents(data, tmp_path):
    config = run_config("first", 3, 0, TINY)
    record = run_tiny(config, data, tmp_path)
    assert isinstance(record, Record) and record.config == config
    assert [e.epoch for e in record.history] == [1, 2]
    assert len(record.attention) == 6 and all(0 < a < 1 for a in record.attention)
    assert all(len(e.attention) == 6 and len(e.attention_std) == 6 for e in record.history)
    assert record.test_accuracy == record.last_epoch.test_accuracy and record.accuracy == 100 * record.test_accuracy
    assert record.data == "synthetic" and record.torch == torch.__version__
    on_disk = json.loads(record_path(config, tmp_path).read_text())
    assert on_disk["run_id"] == config.run_id and on_disk["label"] == "first, RGB + 3 noise"
    assert on_disk["config"]["profile"]["resolution"] == 32 and on_disk["history"][0]["epoch"] == 1
    assert Record.from_json(on_disk) == record
    assert run_tiny(run_config("none", 0, 0, TINY), data, tmp_path).attention is None


def test_same_seed_same_numbers(data, tmp_path):
    config = run_config("last", 0, 1, TINY)
    first = run_tiny(config, data, tmp_path / "a")
    second = run_tiny(config, data, tmp_path / "b")
    assert strip(first) == strip(second)
    other_seed = run_tiny(run_config("last", 0, 2, TINY), data, tmp_path / "a")
    assert strip(other_seed) != strip(first)


def test_existing_record_is_returned_without_training(data, tmp_path, monkeypatch):
    config = run_config("none", 0, 3, TINY)
    record = run_tiny(config, data, tmp_path)

    def no_training(*args, **kwargs):
        raise AssertionError("trained although a record exists")

    monkeypatch.setattr("cbam_helpers.engine.records.fit", no_training)
    assert run_tiny(config, data, tmp_path) == record
    with pytest.raises(AssertionError, match="trained although"):
        run_tiny(config, data, tmp_path, force=True)


def test_interrupted_run_resumes_to_the_same_record(data, tmp_path, monkeypatch):
    config = run_config("first", 3, 4, TINY.but(epochs=3))
    reference = run_tiny(config, data, tmp_path / "whole")

    real_epoch = train_module.train_one_epoch

    def interrupted(*args, epoch, **kwargs):
        if epoch == 1:
            raise KeyboardInterrupt  # a Colab disconnect during the second epoch
        return real_epoch(*args, epoch=epoch, **kwargs)

    monkeypatch.setattr(train_module, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_tiny(config, data, tmp_path / "cut")
    assert not record_path(config, tmp_path / "cut").exists()
    assert checkpoint_path(config, tmp_path / "cut").exists()
    monkeypatch.setattr(train_module, "train_one_epoch", real_epoch)

    resumed = run_tiny(config, data, tmp_path / "cut")
    assert strip(resumed) == strip(reference)
    assert not checkpoint_path(config, tmp_path / "cut").exists()  # gone once the record is written


def test_non_finite_loss_names_epoch_and_batch(data, tmp_path):
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 1, batch 2"):
        run_tiny(run_config("none", 0, 0, TINY.but(lr=float("inf"))), data, tmp_path)


def test_summary_over_seeds(data, tmp_path):
    records = [run_tiny(run_config("none", 0, seed, TINY.but(epochs=1)), data, tmp_path) for seed in (0, 1)]
    table = summary(records)
    accuracies = [r.accuracy for r in records]
    row = table.iloc[0]
    assert row["configuration"] == "none, RGB" and row["n"] == 2
    assert row["mean_accuracy"] == pytest.approx(sum(accuracies) / 2)
    assert row["std_accuracy"] == pytest.approx(torch.tensor(accuracies, dtype=torch.float64).std().item())


def test_load_records_ignores_other_profile_settings(data, tmp_path):
    run_tiny(run_config("none", 0, 0, TINY), data, tmp_path)
    folder = tmp_path / "tiny"
    assert len(list(folder.glob("*.json"))) == 1
    assert load_records(TINY, tmp_path) and not load_records(TINY.but(epochs=5), tmp_path)


def test_profiles():
    assert get_profile("full") == PROFILES["full"]
    full = PROFILES["full"]
    assert (full.resolution, full.batch_size, full.lr, full.epochs, full.train_images) == (112, 32, 0.01, 20, None)
    # the last feature map (ceil(input / 32)) must stay at least 2x2 for max and average pooling to differ
    assert all(p.resolution > 32 for p in PROFILES.values())
    assert PROFILES["cpu"].test_images is None
    with pytest.raises(ValueError, match="choose one of"):
        get_profile("huge")


def test_experiments_share_the_rgb_baseline():
    one, two = run_configs(1, "smoke"), run_configs(2, "smoke")
    assert [c.label for c in one] == ["none, RGB", "last, RGB"]
    assert [c.label for c in two] == ["none, RGB", "none, RGB + 3 noise", "first, RGB + 3 noise"]
    assert one[0].run_id == two[0].run_id
    with pytest.raises(ValueError, match="unknown experiment"):
        run_configs(3)


def test_cli_help_documents_every_command(capsys):
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    text = capsys.readouterr().out
    for command in ("reproduce", "summary", "bench", "throughput", "check"):
        assert command in text
    assert "``" not in text and ":func:" not in text, "raw reST markup in --help"


def test_recorded_seeds(data, tmp_path):
    from cbam_helpers.evidence.experiments import recorded_seeds

    assert recorded_seeds(TINY, tmp_path) == [0]
    for seed in (2, 5):
        run_tiny(run_config("none", 0, seed, TINY.but(epochs=1)), data, tmp_path)
    assert recorded_seeds(TINY.but(epochs=1), tmp_path) == [2, 5]


def test_jobs_give_the_records_of_a_sequential_run(data, tmp_path):
    from cbam_helpers.engine.jobs import run_all, threads_per_job

    runs = [run_config("none", 0, 0, TINY.but(epochs=1)), run_config("first", 3, 0, TINY.but(epochs=1)),
            run_config("last", 0, 1, TINY.but(epochs=1))]
    parallel = run_all(runs, data, jobs=2, results=tmp_path / "parallel", device=CPU, progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(threads_per_job(2))  # the same arithmetic as a worker's
    try:
        sequential = run_all(runs, data, jobs=1, results=tmp_path / "sequential", device=CPU, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert sorted(parallel) == sorted(sequential) == sorted(c.run_id for c in runs)
    for run_id in parallel:
        assert strip(parallel[run_id]) == strip(sequential[run_id])
        assert record_path(next(c for c in runs if c.run_id == run_id), tmp_path / "parallel").exists()
    with pytest.raises(ValueError, match="jobs must be"):
        run_all(runs, data, jobs=0)


def test_shared_configurations_are_trained_once(data, tmp_path, monkeypatch):
    from cbam_helpers.evidence import experiments

    trained = []

    def train_tiny(queue, _, **kwargs):
        trained.extend(queue)
        return {c.run_id: run_tiny(c, data, tmp_path) for c in queue}

    monkeypatch.setattr(experiments, "run_all", train_tiny)
    experiments.reproduce(TINY.but(epochs=1), seeds=(0,), experiments=(1, 2), progress=False)
    assert [c.label for c in trained] == ["none, RGB", "last, RGB", "none, RGB + 3 noise", "first, RGB + 3 noise"]


def test_new_fields_leave_the_committed_records_reachable():
    """A field at its default stays out of the run id, so the records made before it existed keep theirs."""
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "results"
    # every run record; inserted/ holds fine-tunes of a shipped network, records of another kind
    committed = sorted(p for p in results.glob("**/*.json") if p.parent.name != "inserted")
    assert len(committed) >= 48
    for path in committed:
        stored = json.loads(path.read_text())
        config = RunConfig.from_dict(stored["config"])
        assert config.run_id == stored["run_id"] == path.stem
        assert config.label == stored["label"]
        assert config.as_dict() == stored["config"]
        assert Record.from_json(stored).config == config


def test_labels_and_ids_name_what_differs():
    config = run_config("blocks", 0, 0, TINY, reduction_ratio=16, gate="cbam-avg")
    assert config.label == "blocks cbam-avg r=16, RGB" and config.run_id.startswith("blocks-cbam-avg-r16-seed0-")
    gray = run_config("first", 3, 1, TINY, signal=0.5)
    assert gray.label == "first, RGB + 3 gray (rho=0.5)" and gray.run_id.startswith("first-noise3-rho0.5-r1-seed1-")
    assert gray.as_dict()["signal"] == 0.5 and "gate" not in gray.as_dict()


def test_spatial_maps_are_recorded(data, tmp_path):
    record = run_tiny(run_config("blocks", 0, 0, TINY.but(resolution=64, epochs=1), reduction_ratio=4,
                                gate="cbam-spatial"), data, tmp_path)
    maps = record.last_epoch.spatial_maps
    assert [m["size"] for m in maps["maps"]] == [32, 16, 8, 4]
    assert torch.tensor(maps["images"]).shape == (8, 3, 32, 32)
    first = torch.tensor(maps["maps"][0]["maps"])
    assert first.shape == (8, 32, 32) and ((first >= 0) & (first <= 1)).all()


def test_stem_norms_are_recorded_per_input_channel(data, tmp_path):
    record = run_tiny(run_config("none", 3, 0, TINY.but(epochs=1)), data, tmp_path)
    assert len(record.last_epoch.stem_norm) == 6 and all(n > 0 for n in record.last_epoch.stem_norm)


def test_precision_follows_the_device(monkeypatch):
    from cbam_helpers.engine.train import autocast_dtype, grad_scaler

    assert autocast_dtype(CPU) is None and not grad_scaler(CPU).is_enabled()
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # a T4
    assert autocast_dtype(cuda) == torch.float16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))  # an H100
    assert autocast_dtype(cuda) == torch.bfloat16


def test_scaler_skips_a_step_with_an_inf_gradient_and_lowers_its_scale():
    from cbam_helpers.engine.train import grad_scaler, optimizer_step

    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    scaler = grad_scaler(CPU, enabled=True)  # the fp16 path's logic, on the CPU
    scale = scaler.get_scale()
    optimizer_step((weight * 1e38).sum(), optimizer, scaler)  # 1e38 * scale overflows fp32: inf gradients
    assert torch.equal(weight.detach(), torch.ones(3))
    assert scaler.get_scale() == scale * 0.5
    optimizer_step(weight.sum(), optimizer, scaler)  # a finite step goes through, unscaled
    torch.testing.assert_close(weight.detach(), torch.full((3,), 0.9))


def test_shipped_records_are_read_and_never_overwritten(data, tmp_path, monkeypatch):
    """An installed wheel's records are found like the checkout's; new runs go to the writable folder."""
    import cbam_helpers.engine.records as records_module
    from cbam_helpers.engine.records import read_record

    config = run_config("none", 0, 0, TINY.but(epochs=1))
    shipped = tmp_path / "shipped"
    record = run_tiny(config, data, shipped)
    monkeypatch.setattr(records_module, "SHIPPED", shipped)
    monkeypatch.setenv("CBAM_RESULTS", str(tmp_path / "mine"))
    assert records_module.results_path() == [tmp_path / "mine", shipped]

    def no_training(*args, **kwargs):
        raise AssertionError("trained although a shipped record exists")

    with monkeypatch.context() as patch:
        patch.setattr(records_module, "fit", no_training)
        assert run(config, data, device=CPU, progress=False) == record
        assert load_records(config.profile) == [record]
    retrained = run(config, data, device=CPU, progress=False, force=True)
    assert record_path(config) == tmp_path / "mine" / "tiny" / f"{config.run_id}.json"
    assert read_record(shipped / "tiny" / f"{config.run_id}.json") == record
    assert load_records(config.profile) == [retrained]  # the writable folder's copy wins


def test_plan_says_what_will_train(data, tmp_path, monkeypatch):
    from cbam_helpers.engine import bench
    from cbam_helpers.evidence import experiments

    monkeypatch.setattr(bench, "estimate_run_seconds", lambda profile, device: 60.0)
    profile = TINY.but(epochs=1)
    assert "3 of the 3 runs" in experiments.plan(2, profile, [0], results=tmp_path, device=CPU)
    text = experiments.plan(2, profile, [0], results=tmp_path, device=CPU)
    assert "about 60 seconds each" in text and "3 minutes in all" in text
    for config in run_configs(2, profile, (0,)):
        run_tiny(config, data, tmp_path)
    assert "nothing trains" in experiments.plan(2, profile, [0], results=tmp_path, device=CPU)
    for config in run_configs(2, profile, (3,)):
        run_tiny(config, data, tmp_path)
    # seeds=None reads the recorded seeds where the records are, not from the default results folder
    assert "seeds 0, 3 have records: nothing trains" in experiments.plan(2, profile, None, results=tmp_path,
                                                                        device=CPU)


def test_readings_stand_aside_off_the_profile_they_were_written_for():
    from cbam_helpers.evidence.experiments import written_for

    read, _ = written_for("annealed")
    assert read
    read, aside = written_for("smoke")
    assert not read and "stands aside on the `smoke` profile" in aside.data


def test_shown_profile_needs_three_complete_seeds_of_every_experiment(tmp_path, monkeypatch):
    from cbam_helpers.engine.configs import FIRST_ON_NOISE, LAST, NOISY_BASELINE
    from cbam_helpers.evidence.experiments import SHOWN_SEEDS, shown_profile

    def record(configuration, seed, profile):
        write_json(fake_record(configuration, seed, 80.0, profile=PROFILES[profile]).to_json(),
                   record_path(configuration.at(seed, PROFILES[profile]), tmp_path))

    monkeypatch.delenv("CBAM_PROFILE", raising=False)
    assert shown_profile(results=tmp_path).name == "cpu"
    for seed in range(SHOWN_SEEDS):
        for configuration in (BASELINE, LAST):
            record(configuration, seed, "annealed")
    assert shown_profile((1,), tmp_path).name == "annealed"
    # experiment 2 has no seed yet, so chapters showing both experiments stay on cpu
    assert shown_profile((1, 2), tmp_path).name == "cpu"
    for seed in range(SHOWN_SEEDS - 1):
        for configuration in (NOISY_BASELINE, FIRST_ON_NOISE):
            record(configuration, seed, "annealed")
    assert shown_profile((1, 2), tmp_path).name == "cpu"
    record(NOISY_BASELINE, SHOWN_SEEDS - 1, "annealed")
    record(FIRST_ON_NOISE, SHOWN_SEEDS - 1, "annealed")
    assert shown_profile((1, 2), tmp_path).name == "annealed"
    # the post's protocol comes first once it has as many seeds; one seed of it is not enough
    record(BASELINE, 0, "full")
    record(LAST, 0, "full")
    assert shown_profile((1,), tmp_path).name == "annealed"
    for seed in (1, 2):
        record(BASELINE, seed, "full")
        record(LAST, seed, "full")
    assert shown_profile((1,), tmp_path).name == "full"
    monkeypatch.setenv("CBAM_PROFILE", "smoke")
    assert shown_profile((1,), tmp_path).name == "smoke"


def test_run_estimate_is_the_hand_computation_and_measures_something():
    from cbam_helpers.engine.bench import estimate_run_seconds, run_seconds
    from cbam_helpers.engine.profiles import ANNEALED

    # annealed: 8 epochs of 50,000 images in steps of 32 and 10,000 test images in batches of 256
    assert run_seconds(ANNEALED, 0.1, 0.5) == pytest.approx(8 * (1562.5 * 0.1 + 39.0625 * 0.5))
    assert run_seconds(ANNEALED.but(epochs=4), 0.1, 0.5) == pytest.approx(run_seconds(ANNEALED, 0.1, 0.5) / 2)
    torch.manual_seed(0)
    assert 0 < estimate_run_seconds(TINY, CPU, steps=1) < 60


def test_recorded_seeds_of_an_experiment_are_the_complete_ones(data, tmp_path):
    from cbam_helpers.evidence.experiments import recorded_seeds

    profile = TINY.but(epochs=1)
    for config in run_configs(1, profile, (0, 1)):
        run_tiny(config, data, tmp_path)
    run_tiny(run_config("none", 0, 2, profile), data, tmp_path)  # seed 2 lacks `last`
    assert recorded_seeds(profile, tmp_path) == [0, 1, 2]
    assert recorded_seeds(profile, tmp_path, experiment=1) == [0, 1]


def test_across_profiles_sets_the_post_beside_every_recorded_profile():
    from cbam_helpers.evidence.reported import POST_ACCURACY
    from cbam_helpers.display.tables import across_profiles

    cpu, full = PROFILES["cpu"], PROFILES["full"]
    records = [fake_record(c, seed, a, profile=cpu) for seed, (base, last) in enumerate([(60, 62), (61, 64)])
               for c, a in ((BASELINE, base), (LAST, last))]
    table = across_profiles((BASELINE, LAST), {cpu: records}, POST_ACCURACY)
    assert list(table["configuration"]) == ["none, RGB"] * 2 + ["last, RGB"] * 2
    assert list(table["source"]) == ["reported by the post", "cpu profile"] * 2
    post, ours = table.iloc[2], table.iloc[3]
    assert post["accuracy"] == POST_ACCURACY[LAST] and post["n"] == "one run"
    assert ours["n"] == "0, 1" and ours["accuracy"] == pytest.approx(63.0)  # which seeds, not how many
    assert ours["protocol"] == "64x64, 6 epochs, 20,000 images"
    both = {full: [fake_record(BASELINE, 0, 84, profile=full), fake_record(LAST, 0, 85, profile=full)], cpu: records}
    table = across_profiles((BASELINE, LAST), both, POST_ACCURACY)
    assert list(table["source"])[:3] == ["reported by the post", "full profile", "cpu profile"]
    assert table.iloc[1]["protocol"] == "112x112, 20 epochs, 50,000 images"
    annealed = across_profiles((BASELINE,), {PROFILES["annealed"]: [fake_record(BASELINE, s, 80, profile=PROFILES["annealed"])
                                                                    for s in (0, 1, 2, 4)]}, {})
    assert annealed.iloc[0]["n"] == "0, 1, 2, 4"
    assert annealed.iloc[0]["protocol"] == "64x64, 8 epochs, 50,000 images, lr annealed"


def test_complete_records_keep_the_seeds_with_every_configuration(data, tmp_path):
    from cbam_helpers.evidence.experiments import complete_records

    profile = TINY.but(epochs=1)
    assert complete_records(1, profile, tmp_path) == []
    for config in run_configs(1, profile, (0,)):
        run_tiny(config, data, tmp_path)
    run_tiny(BASELINE.at(1, profile), data, tmp_path)  # seed 1 lacks `last`
    assert sorted((r.seed, r.label) for r in complete_records(1, profile, tmp_path)) == [(0, "last, RGB"), (0, "none, RGB")]
    assert complete_records((1, 2), profile, tmp_path) == complete_records(1, profile, tmp_path)  # 2 has no seed yet
    for config in run_configs(2, profile, (0,)):
        run_tiny(config, data, tmp_path)
    assert len(complete_records((1, 2), profile, tmp_path)) == 4  # the shared baseline once


ANNEALED_TINY = TINY.but(epochs=3, schedule="cosine", warmup_epochs=1.0, weight_decay=5e-4, nesterov=True,
                         curve_test_images=16)


def test_cosine_schedule_at_given_steps():
    profile = TINY.but(epochs=4, schedule="cosine", warmup_epochs=1.0)
    # 10 steps per epoch: warm-up over steps 0..9, then half a cosine over steps 10..39
    assert profile.lr_factor(0, 10) == pytest.approx(0.1)
    assert profile.lr_factor(4, 10) == pytest.approx(0.5)
    assert profile.lr_factor(9, 10) == pytest.approx(1.0)
    assert profile.lr_factor(10, 10) == pytest.approx(1.0)
    assert profile.lr_factor(10 + 29 / 2, 10) == pytest.approx(0.5)  # halfway down the cosine
    assert profile.lr_factor(39, 10) == pytest.approx(0.0)
    assert TINY.lr_factor(39, 10) == 1.0  # constant
    with pytest.raises(ValueError, match="schedule"):
        TINY.but(schedule="step")
    with pytest.raises(ValueError, match="warmup_epochs"):
        TINY.but(schedule="cosine", warmup_epochs=5)


def test_the_optimiser_follows_the_schedule_and_skips_decay_on_norms_and_biases():
    model = run_config("none", 0, 0, ANNEALED_TINY).build_model()
    optimizer, scheduler = train_module.make_optimizer(model, ANNEALED_TINY, steps_per_epoch=3)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 5e-4 and plain["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decayed["params"]) and all(p.ndim == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))
    assert optimizer.defaults["nesterov"]
    seen = []
    for step in range(9):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [ANNEALED_TINY.lr * ANNEALED_TINY.lr_factor(s, 3) for s in range(9)]
    assert seen == pytest.approx(expected)
    assert seen[-1] == pytest.approx(0.0)


def test_new_profile_fields_keep_old_ids():
    """The fields the annealed profile added stay out of an old profile's dict, so its run ids do not move."""
    assert set(PROFILES["cpu"].as_dict()) == {"name", "resolution", "batch_size", "lr", "epochs", "train_images",
                                              "test_images", "momentum"}
    assert run_config("none", 0, 0, PROFILES["cpu"]).run_id == "none-r1-seed0-cb5d5a02"
    assert {"schedule", "curve_test_images"} <= set(PROFILES["annealed"].as_dict())


def test_annealed_run_curves_on_a_subset_and_scores_the_whole_test_set_at_the_end(data, tmp_path):
    record = run_tiny(run_config("none", 0, 0, ANNEALED_TINY), data, tmp_path)
    assert all(e.test_images == 16 for e in record.history)
    last = record.last_epoch
    assert record.test_accuracy == last.final_test_accuracy
    assert last.lr == pytest.approx(0.0)
    # the whole 20-image test set: a multiple of 1/20
    assert (record.test_accuracy * 20) == pytest.approx(round(record.test_accuracy * 20))


def test_annealed_run_resumes_to_the_same_record(data, tmp_path, monkeypatch):
    config = run_config("first", 3, 4, ANNEALED_TINY, gate="cbam-constant")
    reference = run_tiny(config, data, tmp_path / "whole")
    real_epoch = train_module.train_one_epoch

    def interrupted(*args, epoch, **kwargs):
        if epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, epoch=epoch, **kwargs)

    monkeypatch.setattr(train_module, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_tiny(config, data, tmp_path / "cut")
    monkeypatch.setattr(train_module, "train_one_epoch", real_epoch)
    resumed = run_tiny(config, data, tmp_path / "cut")
    assert strip(resumed) == strip(reference)
    assert not checkpoint_path(config, tmp_path / "cut").exists()  # gone once the record is written
    assert resumed.test_accuracy == reference.test_accuracy


def test_the_training_loop_records_what_its_probes_return_and_nothing_else(data, tmp_path):
    from cbam_helpers.engine.probes import Probe

    class Counting(Probe):
        def __init__(self):
            self.epochs = 0

        def after_epoch(self, model):
            self.epochs += 1
            return dict(marker=self.epochs)

        def after_training(self, model):
            return dict(done=True)

    probe = Counting()
    model = BASELINE.at(0, TINY).build_model()
    history = train_module.fit(model, data, TINY, seed=0, checkpoint=tmp_path / "c.pt", probes=[probe], device=CPU,
                               progress=False)
    assert [e["marker"] for e in history] == [1, 2] and history[-1]["done"] and "done" not in history[0]
    assert not {"attention", "stem_norm", "spatial_maps"} & set(history[-1])  # measurements come only from probes


def test_max_runs_trains_the_first_missing_runs_in_seed_order(data, tmp_path, monkeypatch):
    from cbam_helpers.evidence import experiments

    trained = []

    def train_tiny(queue, _, **kwargs):
        for c in queue:
            if not record_path(c, tmp_path).exists():
                trained.append((c.seed, c.label))
        return {c.run_id: run_tiny(c, data, tmp_path) for c in queue}

    monkeypatch.setattr(experiments, "run_all", train_tiny)
    profile = TINY.but(epochs=1)
    tables = experiments.reproduce(profile, seeds=(0, 1), experiments=(2,), max_runs=4, results=tmp_path)
    assert trained == [(0, "none, RGB"), (0, "none, RGB + 3 noise"), (0, "first, RGB + 3 noise"), (1, "none, RGB")]
    assert list(summary(tables[2])["n"]) == [2, 1, 1]  # the records are what is recorded
    with pytest.raises(ValueError, match="max_runs"):
        experiments.reproduce(profile, seeds=(0,), experiments=(2,), max_runs=-1)


def test_next_seed_names_the_first_gap_and_what_it_trains(tmp_path):
    from cbam_helpers.engine.configs import FIRST_ON_NOISE, NOISY_BASELINE
    from cbam_helpers.evidence.experiments import next_seed, next_seed_note

    annealed = PROFILES["annealed"]
    for configuration, seeds in ((BASELINE, (0, 1, 2, 3)), (LAST, (0, 1, 2)), (NOISY_BASELINE, (0, 1, 2, 3, 5)),
                                 (FIRST_ON_NOISE, (0, 1, 2, 3, 5))):
        for seed in seeds:
            write_json(fake_record(configuration, seed, 80.0, profile=annealed).to_json(),
                       record_path(configuration.at(seed, annealed), tmp_path))
    seed, missing = next_seed(1, annealed, tmp_path)
    assert seed == 3 and missing == [LAST.at(3, annealed)]
    assert next_seed_note(1, annealed, tmp_path) == (
        "The first seed with a run missing on the `annealed` profile is 3: it trains 1 run (`last, RGB`). Ask for it "
        "with `SEEDS = [0, 1, 2, 3]` in the parameters cell, or "
        "`python -m cbam_helpers reproduce --profile annealed --seeds 3 --experiments 1`.")
    # experiment 2 is complete at 0-3 and 5 lacks only the baseline: seed 4 lacks all three, and SEEDS leaves 5 out
    assert next_seed(2, annealed, tmp_path)[0] == 4 and len(next_seed(2, annealed, tmp_path)[1]) == 3
    assert "`SEEDS = [0, 1, 2, 3, 4]`" in next_seed_note(2, annealed, tmp_path)
    # several experiments: the baseline they share is counted once, and no single SEEDS list is offered
    note = next_seed_note((1, 2), annealed, tmp_path)
    assert "is 3: it trains 1 run (`last, RGB`)" in note and "SEEDS" not in note
    assert "--seeds 3 --experiments 1 2`." in note
    with pytest.raises(ValueError, match="unknown experiment"):
        next_seed(3, annealed, tmp_path)
