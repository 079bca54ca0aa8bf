"""STFT / iSTFT: exact length and reconstruction at every length, full overlap to the last sample, bounded output
of masked spectrograms, frame count and timing conventions."""

import numpy as np
import pytest
import torch

from avvae.stft import StftConfig, analysis_window, istft, power_spectrogram, stft

# hop 533 > n_fft / 2 is the published one (one frame per 30 fps video frame); 256 the common alternative
HOPS = [533, 256]


def every_remainder(hop: int, bases: tuple[int, ...] = (1, 5)) -> list[int]:
    """Lengths base * hop + r for every remainder r of the length modulo the hop."""
    return [base * hop + r for base in bases for r in range(hop)]


def summed_squared_window(config: StftConfig, length: int) -> np.ndarray:
    """Sum over the frames of the squared window at each sample of [0, length), frame n centred on n * hop."""
    squared = analysis_window(config).double().numpy() ** 2
    half = config.n_fft // 2
    total = np.zeros(length + config.n_fft + config.num_frames(length) * config.hop_length)
    for n in range(config.num_frames(length)):
        total[n * config.hop_length : n * config.hop_length + config.n_fft] += squared
    return total[half : half + length]


@pytest.mark.parametrize("hop", HOPS)
@pytest.mark.parametrize("length", [1, 2, 100, 1024, 16000, 16001, 533 * 7])
def test_round_trip_restores_signal_of_original_length(hop, length):
    config = StftConfig(hop_length=hop)
    signal = torch.randn(3, length, generator=torch.Generator().manual_seed(length))
    spec = stft(signal, config)
    assert spec.shape == (3, config.num_frames(length), config.num_bins)
    restored = istft(spec, config, length)
    assert restored.shape == signal.shape
    assert torch.allclose(restored, signal, atol=1e-5)


@pytest.mark.parametrize("hop", HOPS)
def test_round_trip_is_exact_for_every_remainder_of_the_length(hop):
    config = StftConfig(hop_length=hop)
    signals = torch.randn(4, 6 * hop, generator=torch.Generator().manual_seed(hop))
    worst = {}
    for length in every_remainder(hop, (0, 1, 5)):
        if length == 0:
            continue
        spec = stft(signals[:, :length], config)
        assert spec.shape == (4, config.num_frames(length), config.num_bins)
        worst[length] = float((istft(spec, config, length) - signals[:, :length]).abs().max())
    bad = {length: error for length, error in worst.items() if error > 1e-5}
    assert not bad, f"round trip off by more than 1e-5 at lengths {sorted(bad)[:10]} (of {len(bad)})"


@pytest.mark.parametrize("hop", HOPS)
def test_every_sample_lies_under_full_overlap(hop):
    """The summed squared sine window stays >= 0.9 over [0, L) for every remainder (the interior minimum is 0.94
    for hop 533, 2 for hop 256); with 1 + L // hop frames it fell to 0 past the last frame for hop 533."""
    config = StftConfig(hop_length=hop)
    lowest = {length: summed_squared_window(config, length).min() for length in every_remainder(hop, (0, 1, 3))[1:]}
    low = {length: value for length, value in lowest.items() if value < 0.9}
    assert not low, f"summed squared window below 0.9 at lengths {sorted(low)[:10]} (of {len(low)})"


def test_frame_count_adds_a_frame_only_when_the_last_sample_is_past_the_last_centre():
    config = StftConfig()
    assert [config.num_frames(length) for length in (1, 2, 533, 534, 535, 1066, 1067, 1068)] == [1, 2, 2, 2, 3, 3, 3, 4]
    for length in range(1, 3 * 533):
        last_centre = (config.num_frames(length) - 1) * 533
        assert length - 1 <= last_centre < length - 1 + 533, length
    with pytest.raises(ValueError, match="at least one sample"):
        config.num_frames(0)


@pytest.mark.parametrize("length", [533 * 3 + 400, 533 * 3 + 520])
def test_frames_stay_centred_on_n_times_hop_including_the_added_last_one(length):
    """Frame n is the DFT of the windowed samples [n * hop - n_fft / 2, n * hop + n_fft / 2), zeros outside."""
    config = StftConfig()
    signal = np.random.default_rng(length).standard_normal(length)
    spec = stft(signal, config).numpy()
    assert len(spec) == 5, "the last sample is past frame 3's centre, so a fifth frame is added"
    padded = np.concatenate([np.zeros(512), signal, np.zeros(2048)])
    window = np.sin((np.arange(1024) + 0.5) * np.pi / 1024)
    for n in range(len(spec)):
        expected = np.fft.rfft(padded[n * 533 : n * 533 + 1024] * window)
        np.testing.assert_allclose(spec[n], expected, atol=1e-3, err_msg=f"frame {n}")


@pytest.mark.parametrize("hop", HOPS)
def test_masked_spectrogram_gives_no_clicks_at_any_length(hop):
    """A random mask in [0, 1] (an inconsistent spectrogram, as a Wiener filter makes) never lifts the output
    above twice the input's peak, in particular over the last n_fft samples, whatever the length modulo the hop.
    With 1 + L // hop frames and hop 533 the division by the vanishing window envelope made clicks 100x the peak."""
    config = StftConfig(hop_length=hop)
    generator = torch.Generator().manual_seed(7)
    signals = torch.randn(4, 6 * hop, generator=generator)
    loud = {}
    for length in every_remainder(hop, (1, 5)):
        spec = stft(signals[:, :length], config)
        masked = istft(spec * torch.rand(spec.shape, generator=generator), config, length)
        peak = float(signals[:, :length].abs().max())
        ratios = (float(masked.abs().max()) / peak, float(masked[:, -config.n_fft :].abs().max()) / peak)
        if max(ratios) > 2.0:
            loud[length] = ratios
    assert not loud, f"masked output above twice the input peak at lengths {sorted(loud)[:10]} (of {len(loud)})"


def test_spectrogram_with_another_frame_count_is_rejected():
    """Features dumped with the old count (1 + L // hop = 4 frames here) must not be silently misaligned."""
    config = StftConfig()
    spec = stft(torch.zeros(533 * 3 + 100), config)
    with pytest.raises(ValueError, match="spectrogram has 4 frames, a signal of 1699 samples has 5"):
        istft(spec[:-1], config, 533 * 3 + 100)


def test_hop_longer_than_the_window_is_rejected():
    with pytest.raises(ValueError, match="hop_length must be in 1..n_fft=1024"):
        StftConfig(hop_length=1025)


def test_power_is_squared_magnitude_and_frame_times_follow_hop():
    config = StftConfig()
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    power = power_spectrogram(tone, config)
    peak_bin = int(power.mean(0).argmax())
    assert abs(peak_bin * config.sample_rate / config.n_fft - 1000) < config.sample_rate / config.n_fft
    np.testing.assert_allclose(power, stft(tone, config).abs().square())
    assert np.allclose(config.frame_times(3), [0.0, 533 / 16000, 2 * 533 / 16000])
    assert config.frame_rate == pytest.approx(30.02, abs=0.01)


def test_unknown_window_is_rejected():
    with pytest.raises(ValueError, match="unknown STFT window"):
        stft(np.zeros(2000), StftConfig(window="kaiser"))
