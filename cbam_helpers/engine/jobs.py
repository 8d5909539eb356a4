"""Many runs: one after another in this process, or up to N at once, each in a process of its own.

On a GPU one run at batch 32 leaves most of the device idle between kernel launches, so several
concurrent runs raise the throughput; on a CPU the cores are split between the jobs (each gets
``cpu_count // jobs`` threads) so that they do not oversubscribe them. Every run writes its own
record atomically and checkpoints every epoch, so an interrupted queue resumes where it stopped.
"""
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch
from tqdm.auto import tqdm

from cbam_helpers.engine.records import record_path, run


def threads_per_job(jobs):
    return max(1, (os.cpu_count() or 1) // jobs)


def run_all(configs, data=None, *, jobs=1, results=None, force=False, device=None, progress=True,
            keep_weights=False):
    """``{run_id: record}`` for every configuration, training those without a record (all with ``force``).

    ``data`` is a CIFAR10 or a function returning one (``load_cifar10``), called once, and only if something
    trains; worker processes are handed the function and load from the decoded cache it leaves."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    todo = [c for c in configs if force or not record_path(c, results).exists()]
    records = {c.run_id: run(c, data, results=results, device=device, progress=progress)
               for c in configs if c not in todo}
    if jobs == 1 or len(todo) < 2:
        if callable(data) and todo:
            data = data()
        records.update({c.run_id: run(c, data, results=results, force=force, device=device, progress=progress,
                                      keep_weights=keep_weights) for c in todo})
        return records
    # spawn, not fork: a forked child inherits the parent's thread pools in an unusable state;
    # one task per process, so each run starts from a clean interpreter and frees its memory
    context = multiprocessing.get_context("spawn")
    if callable(data):
        data()  # decode once here, so the workers read the decoded cache instead of each decoding the archive
    with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=context, max_tasks_per_child=1) as pool:
        futures = {pool.submit(train_in_worker, c, data, results, force, device, threads_per_job(jobs),
                               keep_weights): c for c in todo}
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"runs ({jobs} at a time)",
                           disable=not progress):
            records[futures[future].run_id] = future.result()
    return records


def train_in_worker(config, data, results, force, device, threads, keep_weights=False):
    torch.set_num_threads(threads)
    return run(config, data, results=results, force=force, device=device, progress=False, keep_weights=keep_weights)
