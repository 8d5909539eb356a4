"""What the records say: the experiments and claims, the one paired comparison and its verdicts, the statistics of
seeds, the reported numbers, and gates inserted into a trained network. Builds on :mod:`cbam_helpers.engine`."""
