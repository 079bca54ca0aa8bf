"""The speaker order a decode records and scoring follows: decided by the model, not by the system's name. An
audio-only SI model in a folder of any name is scored in its best order, an AV-VAE in the fixed one; SD models
only where a talker speaks twice; scoring options override the record; a decode finished before the record gets
it on a rerun without separating anything again."""

import pytest

from avvae.bin import score
from avvae.fileio.decode_dir import read_speaker_order
from avvae.models import ModelConfig, SpeechVAE, save_model
from avvae.separation.speaker_order import own_cues, speaker_order
from tests.test_provenance import column, mixture_workdir, step

MIXTURES = [["s1", "s4"], ["s4", "s2"]]


def test_the_same_model_for_two_speakers_without_lips_leaves_no_order():
    def si(speakers):
        return ["model.pt"] * len(speakers)

    def sd(speakers):
        return [f"{spk}/model.pt" for spk in speakers]

    assert speaker_order(MIXTURES, si) == "none"
    assert speaker_order(MIXTURES, sd) == "fixed"
    assert speaker_order([*MIXTURES, ["s1", "s1"]], sd) == "none", "s1 + s1: s1's model twice"
    assert speaker_order([*MIXTURES, ["s1", "s1"]], own_cues) == "fixed", "lips or references tell them apart"


@pytest.fixture
def mixtures(tmp_path):
    return mixture_workdir(tmp_path, 1)


def decode(workdir, model_dir: str) -> tuple[str, str]:
    """steps/decode.sh with MCEM and the model of exp/<model_dir>: its decode dir and its output."""
    out = f"exp/{model_dir}/decode_test_mix"
    result = step(
        workdir,
        "decode.sh",
        "--nj",
        "1",
        "--decode-opts",
        f"--method mcem --model-dir exp/{model_dir} --config conf/mcem.yaml",
        "data/test_mix",
        "dump/test_mix/feats.h5",
        out,
    )
    return out, result.stdout


@pytest.mark.slow
def test_an_audio_only_si_model_of_any_name_is_scored_in_its_best_order_an_av_vae_in_the_fixed_one(mixtures):
    save_model(
        SpeechVAE(ModelConfig(kind="avae", latent_dim=4, hidden_dim=16)),
        mixtures / "exp" / "plain_voice_variant" / "model.pt",
    )
    save_model(
        SpeechVAE(ModelConfig(kind="avvae", latent_dim=4, hidden_dim=16, lip_hidden=16, lip_embedding=8)),
        mixtures / "exp" / "lipreader" / "model.pt",
    )
    (audio_only, _), (audio_visual, _) = decode(mixtures, "plain_voice_variant"), decode(mixtures, "lipreader")
    assert read_speaker_order(mixtures / audio_only) == "none"
    assert read_speaker_order(mixtures / audio_visual) == "fixed"

    step(mixtures, "score.sh", "--nj", "1", "data/test_mix", audio_only, audio_visual)
    assert set(column(mixtures / audio_only, "permutation")) == {"best"}
    assert set(column(mixtures / audio_visual, "permutation")) == {"fixed"}
    assert '"permutation": "best"' in (mixtures / audio_only / ".done.score").read_text()

    # a decode finished before decodes recorded their order gets the record, and keeps its wavs and scores
    (mixtures / audio_only / "speaker_order").unlink()
    wavs = {path: path.stat().st_mtime_ns for path in (mixtures / audio_only / "wav").iterdir()}
    assert (
        f"{audio_only} is separated but has no speaker_order record: its jobs write it"
        in decode(mixtures, "plain_voice_variant")[1]
    )
    assert read_speaker_order(mixtures / audio_only) == "none"
    assert {path: path.stat().st_mtime_ns for path in wavs} == wavs
    assert f"{audio_only} is separated, skipping" in decode(mixtures, "plain_voice_variant")[1]
    rescored = step(mixtures, "score.sh", "--nj", "1", "data/test_mix", audio_only, audio_visual).stdout
    assert rescored.count("scores.tsv exists, skipping it") == 2


def print_order(capsys, *args: str) -> list[str]:
    score.main(score.build_parser().parse_args(["--print-order", "data/test_mix", *args]))
    return capsys.readouterr().out.split()


def test_scoring_options_override_the_record_and_a_decode_dir_without_one_is_fixed(tmp_path, capsys):
    none, fixed, elsewhere = tmp_path / "none", tmp_path / "fixed", tmp_path / "elsewhere"
    for folder, order in ((none, "none\n"), (fixed, "fixed\n"), (elsewhere, None)):
        folder.mkdir()
        if order:
            (folder / "speaker_order").write_text(order)
    dirs = [str(none), str(fixed), str(elsewhere)]
    assert print_order(capsys, *dirs) == ["best", "fixed", "fixed"]
    assert print_order(capsys, *dirs, "--fixed-order", str(none), "--permutation-invariant", str(fixed)) == [
        "fixed",
        "best",
        "fixed",
    ]
    with pytest.raises(ValueError, match="named for the best speaker order and for the fixed one"):
        print_order(capsys, *dirs, "--fixed-order", str(none), "--permutation-invariant", f"{tmp_path}/./none")
    with pytest.raises(ValueError, match=r"fixed-order dir\(s\) .*other.* are not among the decode dirs scored"):
        print_order(capsys, *dirs, "--fixed-order", str(tmp_path / "other"))
    (none / "speaker_order").write_text("best\n")
    with pytest.raises(ValueError, match=r"none/speaker_order: 'best' is not a speaker order \(fixed or none\)"):
        print_order(capsys, *dirs)
