"""Audio that cannot be trusted never passes silently: non-finite, truncated or empty files are refused when read,
validated, dumped or written, naming the file (or the mixture)."""

import numpy as np
import pytest
import scipy.io.wavfile
import torch

from avvae.bin import dump_features as dump_command
from avvae.bin import validate_data_dir
from avvae.features import FeatureConfig, dump_features
from avvae.fileio.audio import AudioFileError, read_wav, write_wav
from avvae.mixing import MixConfig, make_mixtures
from avvae.separation.decode import Separation, decode_mixtures, unprocessed_mixture
from tests.commands import failure
from tests.datadirs import make_noise_dir, make_speech_dir


def _float_wav(path, samples):
    scipy.io.wavfile.write(path, 16000, np.asarray(samples, np.float32))
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_reading_a_wav_with_a_non_finite_sample_names_the_file_and_the_sample(tmp_path, bad):
    samples = np.zeros(16000, np.float32)
    samples[8000] = bad
    path = _float_wav(tmp_path / "mixture.wav", samples)
    with pytest.raises(
        AudioFileError,
        match=r"mixture\.wav: 1 non-finite sample\(s\), the first at sample 8000 "
        r"\(0\.500 s\)",
    ):
        read_wav(path)
    assert read_wav(_float_wav(tmp_path / "good.wav", np.zeros(10)))[0].shape == (10,)


def test_writing_refuses_non_finite_samples_and_leaves_no_file(tmp_path):
    with pytest.raises(AudioFileError, match=r"out\.wav \(not written\): 2 non-finite"):
        write_wav(tmp_path / "out.wav", np.array([0.0, np.nan, 0.1, np.inf]), 16000)
    assert list(tmp_path.iterdir()) == []


def test_a_speech_dir_with_a_nan_sample_fails_the_dump_naming_the_file(tmp_path):
    speech = make_speech_dir(tmp_path, speakers=1, utts=2)
    first = sorted((speech / "wav.scp").read_text().split("\n"))[1].split()[1]
    samples, _ = read_wav(first)
    samples[100] = np.nan
    _float_wav(first, samples)
    with pytest.raises(AudioFileError, match=f"{first}: 1 non-finite sample"):
        dump_features(speech, tmp_path / "dump" / "feats.h5", FeatureConfig())


def test_a_separation_that_is_not_finite_fails_naming_the_mixture_and_writes_nothing(tmp_path):
    speech, noise = make_speech_dir(tmp_path, speakers=2, utts=1), make_noise_dir(tmp_path)
    make_mixtures(speech, noise, tmp_path / "mix", tmp_path / "audio", MixConfig(num_mixtures=2, snr_db=[0.0]))
    feats = tmp_path / "dump" / "feats.h5"
    dump_features(tmp_path / "mix", feats, FeatureConfig())

    def broken(mixture):
        good = unprocessed_mixture(mixture)
        sources = good.sources.clone()
        sources[0, 3, 10] = torch.nan
        return Separation(sources, good.noise)

    with pytest.raises(ValueError, match=r"mixture \S+: the separation is not finite"):
        decode_mixtures(feats, tmp_path / "decode", broken)
    assert not list((tmp_path / "decode").rglob("*.wav"))
    assert decode_mixtures(feats, tmp_path / "decode", unprocessed_mixture) == 2


def test_reading_a_truncated_wav_names_the_file(tmp_path):
    path = _float_wav(tmp_path / "cut.wav", np.ones(1000) * 0.1)
    content = path.read_bytes()
    path.write_bytes(content[:-100])
    with pytest.raises(
        AudioFileError,
        match=r"cut\.wav: truncated: its header announces 4000 bytes of samples, the "
        r"file holds 3900",
    ):
        read_wav(path)


def test_a_wav_without_samples_is_named_by_the_validation_and_the_dump(tmp_path, caplog):
    speech = make_speech_dir(tmp_path, speakers=1, utts=2)
    (tmp_path / "feats.yaml").write_text("hop_length: 256\n")
    first = sorted((speech / "wav.scp").read_text().split("\n"))[1].split()[1]
    _float_wav(first, np.zeros(0))
    validation = failure(caplog, validate_data_dir.build_parser, validate_data_dir.main, [str(speech)])
    assert validation == f"{speech}/wav.scp: spk0_000: {first} has no samples (an empty recording)"
    dump = [str(speech), str(tmp_path / "dump"), "--config", str(tmp_path / "feats.yaml")]
    assert failure(caplog, dump_command.build_parser, dump_command.main, dump) == (
        f"{first}: has no samples (an empty recording)"
    )
