"""File formats and I/O: waveforms, Kaldi data dirs, feature files, lips and video, atomic outputs and the
done markers that record what made them."""
