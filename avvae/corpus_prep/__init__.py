"""Data preparation of real audio-visual corpora (NTCD-TIMIT, GRID) into the recipe's Kaldi-style data dirs."""
