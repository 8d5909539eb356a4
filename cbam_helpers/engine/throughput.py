"""How many runs to train at once on one device: aggregate training throughput of N concurrent jobs.

Each job is a process of its own training the baseline at a profile's settings on random images held on
the device (the input pipeline is the package's own, so only the device is measured). All jobs warm up,
wait for each other at a barrier, then time the same number of steps; the aggregate is every job's images
over the slowest job's time. ``compile=True`` measures ``torch.compile``'d models instead of eager ones.
"""
import multiprocessing
import time

import torch

from cbam_helpers.engine.jobs import threads_per_job
from cbam_helpers.engine.profiles import get_profile

WARMUP = 5


def job(index, profile_name, steps, compiled, threads, barrier, results):
    from cbam_helpers.engine.bench import Trainer, our_batches
    from cbam_helpers.nn.mobilenet import MobileNet
    from cbam_helpers.engine.train import choose_device

    torch.set_num_threads(threads)
    profile, device = get_profile(profile_name), choose_device()
    torch.manual_seed(index)
    model = MobileNet("none").to(memory_format=torch.channels_last)
    if compiled:
        model = torch.compile(model)
    images = torch.randint(0, 256, (1024, 3, 32, 32), dtype=torch.uint8)
    trainer = Trainer(model, our_batches(images, torch.arange(1024) % 10, device, profile), device, profile=profile)
    trainer.time(WARMUP)  # after the trainer's own warm-up: compilation and cudnn autotuning end here
    barrier.wait()
    start = time.perf_counter()
    trainer.time(steps)  # synchronises the device before it returns
    results.put((index, time.perf_counter() - start))


def aggregate(jobs, profile="full", steps=50, compiled=False):
    """Images per second of ``jobs`` concurrent runs together, and of the slowest one alone."""
    profile = get_profile(profile)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(jobs), context.Queue()
    threads = threads_per_job(jobs)
    processes = [context.Process(target=job, args=(i, profile.name, steps, compiled, threads, barrier, results))
                 for i in range(jobs)]
    for process in processes:
        process.start()
    seconds = [results.get()[1] for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode:
            raise RuntimeError(f"a throughput job failed with exit code {process.exitcode}")
    return dict(jobs=jobs, compiled=compiled, **combined(seconds, steps, profile.batch_size))


def combined(seconds, steps, batch_size):
    """Throughput of jobs that each timed ``steps`` steps of ``batch_size`` images in ``seconds`` (one per job):
    every job's images over the slowest job's time, since the jobs started together and the last to finish
    sets how long the work took."""
    slowest = max(seconds)
    return dict(images_per_second=len(seconds) * steps * batch_size / slowest, per_job=steps * batch_size / slowest)


def main(jobs=(1, 4, 8, 12), profile="full", steps=50, compiled=False):
    from cbam_helpers.engine.train import choose_device, device_name

    print(f"{device_name(choose_device())}: the baseline at the {profile} profile's settings, {steps} timed steps per job"
          + (", torch.compile" if compiled else ", eager"))
    rows = []
    for n in jobs:
        row = aggregate(n, profile, steps, compiled)
        rows.append(row)
        print(f"{n:3d} concurrent job(s): {row['images_per_second']:9.0f} images/s in all, {row['per_job']:8.0f} per job")
    return rows
