"""Chapters 2b and 2c: small synthetic tasks where the right answer is known (which channel carries the class,
where in the image it sits), tiny networks that learn them in seconds, and their figures. Builds on
:mod:`cbam_helpers.nn` and :mod:`cbam_helpers.evidence`."""
