"""Training of the speech VAEs: on-the-fly mixtures, the objective, the loop, DDP."""
