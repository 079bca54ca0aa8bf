"""mini_av: the embedded audio-visual corpus, synthesised offline (espeak-ng + MBROLA speech, rendered lips)."""
