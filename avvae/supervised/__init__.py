"""The supervised baseline: a target-speaker audio-visual mask network trained on on-the-fly mixtures."""
