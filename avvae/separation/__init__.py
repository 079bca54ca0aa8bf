"""Separation drivers and the methods without a model package of their own: the decoding driver, the NMF
baseline, the oracle mask, and separating a user's own recording or video."""
