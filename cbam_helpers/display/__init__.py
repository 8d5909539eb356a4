"""What the chapters share to show the evidence: tables, the provenance line and figures, built from records and
comparisons. Builds on :mod:`cbam_helpers.evidence`."""
