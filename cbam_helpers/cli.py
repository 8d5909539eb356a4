"""``python -m cbam_helpers``: reproduce the experiments, print their tables, benchmark the pipeline."""
import argparse
import importlib
import sys

import pandas as pd
from torch import nn

from cbam_helpers.evidence.experiments import EXPERIMENTS
from cbam_helpers.engine.profiles import PROFILES
from cbam_helpers.nn.checker import check_gate


DESCRIPTION = ("Reproduce the book's CIFAR-10 experiments, print their tables, benchmark the training pipeline and "
               "check a channel gate you wrote.")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cbam_helpers", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)

    reproduce = commands.add_parser("reproduce", help="train what is missing of the experiments, print the tables",
                                    description="Train every run of the chosen experiments that has no record "
                                                "under results/<profile>/ yet, then print the summary tables.")
    reproduce.add_argument("--profile", choices=PROFILES, default=None,
                           help="run profile (default: $CBAM_PROFILE, else full on CUDA, cpu elsewhere)")
    reproduce.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds to run (default: 0)")
    reproduce.add_argument("--experiments", nargs="+", choices=[str(n) for n in EXPERIMENTS], default=["1", "2"],
                           help="which experiments (default: 1 2, the post's; the named ones are chapter 6's)")
    reproduce.add_argument("--jobs", type=int, default=1,
                           help="train up to N configurations at once, each in its own process (default: 1)")
    reproduce.add_argument("--max-runs", type=int, default=None,
                           help="train at most N of the missing runs, the first in seed order, so that a queue "
                                "can be sized to finish (default: all)")
    reproduce.add_argument("--force", action="store_true", help="retrain even where a record exists")
    reproduce.add_argument("--keep-weights", action="store_true",
                           help="also write each trained run's final weights (fp16 safetensors) under "
                                "<results>/<profile>/weights/; with --force and CBAM_RESULTS set to a scratch "
                                "folder, a committed run is retrained there and compared, never overwritten")
    reproduce.add_argument("--no-progress", action="store_true", help="no progress bars")

    table = commands.add_parser("summary", help="print the tables of the recorded runs, training nothing")
    table.add_argument("--profile", choices=PROFILES, default=None, help="run profile (default as for reproduce)")

    bench = commands.add_parser("bench", help="training throughput: the post's pipeline against this package's",
                                description="Measures, on this machine, images per second of the post's "
                                            "PIL pipeline and of this package's tensor pipeline at the full "
                                            "profile's settings, in interleaved rounds; our pipeline's overhead "
                                            "over the bare model step; and each gate's share of a step.")
    bench.add_argument("--rounds", type=int, default=5, help="interleaved rounds of measurement (default: 5)")
    bench.add_argument("--steps", type=int, default=10, help="timed training steps per round (default: 10)")

    concurrency = commands.add_parser("throughput", help="aggregate images/s of N concurrent runs on this device",
                                      description="Trains the baseline in N concurrent processes on random "
                                                  "images and prints the aggregate images per second, to choose "
                                                  "reproduce's --jobs for a device.")
    concurrency.add_argument("--jobs", type=int, nargs="+", default=[1, 4, 8, 12], help="concurrencies to measure")
    concurrency.add_argument("--profile", choices=PROFILES, default="full", help="settings to train at (default: full)")
    concurrency.add_argument("--steps", type=int, default=50, help="timed steps per job (default: 50)")
    concurrency.add_argument("--compile", action="store_true", help="torch.compile the model")

    check = commands.add_parser("check", help="probe a channel gate you wrote for the common mistakes",
                                description="Builds CLASS(channels[, ratio]) and reports which properties of "
                                            "a channel gate it has (cbam_helpers.check_gate); exit status 0 "
                                            "when all hold, 1 when some fail, 2 when it cannot be built.")
    check.add_argument("target", metavar="package.module:ClassName", help="the class to build and check")
    check.add_argument("--channels", type=int, required=True, help="channels C the gate is built for")
    check.add_argument("--ratio", type=float, default=None,
                       help="reduction ratio, passed as the second argument (default: the class's own)")
    check.add_argument("--kind", choices=("scores", "gated"), default="scores",
                       help="what the module returns: scores (B, C[, 1, 1]) or gated features (default: scores)")
    check.add_argument("--descriptor", choices=("both", "avg"), default="both",
                       help="both: CBAM's average and max; avg: SE's average alone (default: both)")
    check.add_argument("--size", type=int, default=7, help="height and width of the probe maps (default: 7)")

    args = parser.parse_args(argv)
    if args.command == "check":
        return check_command(parser, args)
    with pd.option_context("display.precision", 2, "display.width", 120):
        if args.command == "reproduce":
            from cbam_helpers.evidence.experiments import reproduce as reproduce_experiments

            records = reproduce_experiments(args.profile, seeds=args.seeds, experiments=args.experiments,
                                           jobs=args.jobs, max_runs=args.max_runs, force=args.force,
                                           keep_weights=args.keep_weights, progress=not args.no_progress)
            from cbam_helpers.display.tables import summary

            for n, runs in records.items():
                print(f"\nExperiment {n}\n{summary(runs).to_string(index=False)}")
        elif args.command == "summary":
            from cbam_helpers.engine.records import load_records
            from cbam_helpers.display.tables import summary

            print(summary(load_records(args.profile)).to_string(index=False))
        elif args.command == "bench":
            from cbam_helpers.engine.bench import main as bench_main

            bench_main(rounds=args.rounds, steps=args.steps)
        elif args.command == "throughput":
            from cbam_helpers.engine.throughput import main as throughput_main

            throughput_main(args.jobs, args.profile, args.steps, args.compile)


if __name__ == "__main__":
    main()


def build_target(target, channels, ratio):
    """``package.module:ClassName`` built as ``ClassName(channels[, ratio])``; a readable error otherwise."""
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"name the class as package.module:ClassName, got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ValueError(f"cannot import {module_name!r}: {type(error).__name__}: {error}") from error
    if not hasattr(module, class_name):
        raise ValueError(f"module {module_name!r} has no attribute {class_name!r}")
    arguments = (channels,) if ratio is None else (channels, ratio)
    try:
        gate = getattr(module, class_name)(*arguments)
    except Exception as error:
        call = f"{class_name}({', '.join(map(repr, arguments))})"
        raise ValueError(f"{call} raised {type(error).__name__}: {error}") from error
    if not isinstance(gate, nn.Module):
        raise ValueError(f"{class_name}(...) built a {type(gate).__name__}, not an nn.Module")
    return gate


def check_command(parser, args):
    """``python -m cbam_helpers check``: 0 when every property holds, 1 when some fail, 2 when nothing ran."""
    try:
        gate = build_target(args.target, args.channels, args.ratio)
    except ValueError as error:
        parser.error(str(error))
    report = check_gate(gate, kind=args.kind, descriptor=args.descriptor, channels=args.channels,
                        size=(args.size, args.size))
    print(report)
    if report.checks[0].passed is False:
        print(f"{args.target} does not run on a (B, C, H, W) input of {args.channels} channels: "
              f"{report.checks[0].message}", file=sys.stderr)
    return 0 if report.ok else 1
