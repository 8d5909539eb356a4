"""Configurations: what they refuse, how they are named, and that records are found by them, not by label text."""
import pytest

from cbam_helpers.engine.batches import InputSpec
from cbam_helpers.engine.configs import (BASELINE, FIRST_ON_GRAY, FIRST_ON_NOISE, FIRST_SCALE_ON_NOISE, LAST, NOISE,
                                  Configuration, RunConfig)
from cbam_helpers.evidence.experiments import CLAIMS, EXPERIMENTS, QUESTIONS
from cbam_helpers.engine.profiles import CPU
from cbam_helpers.evidence.comparisons import compare
from fakes import fake_record


@pytest.mark.parametrize("fields, words", [
    (dict(attention_loc="middle"), "attention_loc must be one of"),
    (dict(attention_loc="last", gate="median"), "gate must be one of"),
    (dict(attention_loc="first", gate="scale", reduction_ratio=16), "no reduction ratio"),
    (dict(gate="cbam-avg"), "'none' has no gate"),
    (dict(reduction_ratio=16), "'none' has no gate"),
    (dict(inputs=3), "InputSpec"),
])
def test_a_configuration_that_two_names_could_describe_is_refused(fields, words):
    with pytest.raises((ValueError, TypeError), match=words):
        Configuration(**fields)


def test_named_configurations_keep_the_labels_and_ids_of_the_records():
    assert BASELINE.label == "none, RGB" and LAST.label == "last, RGB"
    assert FIRST_ON_NOISE.label == "first, RGB + 3 noise" and FIRST_ON_NOISE.inputs == NOISE
    assert FIRST_SCALE_ON_NOISE.label == "first scale, RGB + 3 noise"
    assert FIRST_ON_GRAY[0.5].label == "first, RGB + 3 gray (rho=0.5)"
    assert BASELINE.at(0, CPU).run_id == "none-r1-seed0-cb5d5a02"  # committed in results/cpu/
    config = Configuration("first", inputs=InputSpec(3)).at(2, CPU)
    assert config == FIRST_ON_NOISE.at(2, CPU) and RunConfig.from_dict(config.as_dict()) == config
    assert config.build_model().input_channel == 6


def test_every_experiment_and_comparison_names_known_configurations():
    configurations = {c for experiment in EXPERIMENTS.values() for c in experiment}
    for name, baseline, treatment, *_ in CLAIMS + tuple(pair for pairs in QUESTIONS.values() for pair in pairs):
        assert baseline in configurations and treatment in configurations, name


def test_records_are_matched_by_configuration_whatever_their_label_reads(monkeypatch):
    records = [fake_record(BASELINE, 0, 60.0), fake_record(LAST, 0, 61.0)]
    monkeypatch.setattr(Configuration, "label", property(lambda self: "renamed"))
    assert compare(records, BASELINE, LAST).differences == pytest.approx((1.0,))
