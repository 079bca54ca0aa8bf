"""Evaluation and reporting: BSS Eval and the other metrics, scoring of decode dirs, RESULTS.md and TIMING.md."""
