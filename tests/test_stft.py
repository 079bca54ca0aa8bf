"""STFT / iSTFT: exact length and reconstruction, frame count and timing conventions."""

import numpy as np
import pytest
import torch

from avvae.stft import StftConfig, istft, power_spectrogram, stft


@pytest.mark.parametrize("hop", [533, 256])
@pytest.mark.parametrize("length", [100, 1024, 16000, 16001, 533 * 7])
def test_round_trip_restores_signal_of_original_length(hop, length):
    config = StftConfig(hop_length=hop)
    signal = torch.randn(3, length, generator=torch.Generator().manual_seed(length))
    spec = stft(signal, config)
    assert spec.shape == (3, config.num_frames(length), config.num_bins)
    restored = istft(spec, config, length)
    assert restored.shape == signal.shape
    assert torch.allclose(restored, signal, atol=1e-5)


def test_power_is_squared_magnitude_and_frame_times_follow_hop():
    config = StftConfig()
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    power = power_spectrogram(tone, config)
    peak_bin = int(power.mean(0).argmax())
    assert abs(peak_bin * config.sample_rate / config.n_fft - 1000) < config.sample_rate / config.n_fft
    assert np.allclose(config.frame_times(3), [0.0, 533 / 16000, 2 * 533 / 16000])
    assert config.frame_rate == pytest.approx(30.02, abs=0.01)


def test_unknown_window_is_rejected():
    with pytest.raises(ValueError, match="unknown STFT window"):
        stft(np.zeros(2000), StftConfig(window="kaiser"))
