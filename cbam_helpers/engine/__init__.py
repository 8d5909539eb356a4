"""Training and its records: configurations and profiles, data and batches, the training loop, checkpoints, run
records and weights, many runs at once, and timings. Builds on :mod:`cbam_helpers.nn`."""
