"""manifest.jsonl of a mixture dir: every line checked once where the dir is validated or read, errors that name
the file, line and key (validate_data_dir, dump_features and score, as a user runs them)."""

import json
import shutil

import pytest

from avvae.bin import dump_features, score, validate_data_dir
from avvae.cli import run_main
from avvae.mixing import MixConfig, make_mixtures
from tests.commands import failure
from tests.datadirs import make_noise_dir, make_speech_dir


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("manifest")
    speech, noise = make_speech_dir(root, speakers=3, utts=1), make_noise_dir(root, seconds=2.0)
    make_mixtures(speech, noise, root / "mix", root / "audio", MixConfig(num_mixtures=2, snr_db=[0.0]))
    return root / "mix"


@pytest.fixture
def mix_dir(pristine, tmp_path):
    return shutil.copytree(pristine, tmp_path / "mix")


def entries(mix_dir) -> list[dict]:
    return [json.loads(line) for line in (mix_dir / "manifest.jsonl").read_text().splitlines()]


def write_lines(mix_dir, lines: list[str]) -> None:
    (mix_dir / "manifest.jsonl").write_text("".join(line + "\n" for line in lines))


def validate(caplog, mix_dir) -> str:
    return failure(caplog, validate_data_dir.build_parser, validate_data_dir.main, [str(mix_dir)])


def dump(caplog, mix_dir, tmp_path) -> str:
    config = tmp_path / "feats.yaml"
    config.write_text("hop_length: 256\n")
    argv = [str(mix_dir), str(tmp_path / "dump"), "--config", str(config)]
    return failure(caplog, dump_features.build_parser, dump_features.main, argv)


def test_the_mixture_dir_as_made_passes(pristine):
    run_main(validate_data_dir.build_parser, validate_data_dir.main, [str(pristine)])


def test_a_line_that_is_not_json_names_file_and_line(mix_dir, caplog, tmp_path):
    lines = (mix_dir / "manifest.jsonl").read_text().splitlines()
    write_lines(mix_dir, [lines[0], lines[1][: len(lines[1]) // 2]])
    assert validate(caplog, mix_dir).startswith(f"{mix_dir / 'manifest.jsonl'}:2: not valid JSON")
    assert dump(caplog, mix_dir, tmp_path).startswith(f"{mix_dir / 'manifest.jsonl'}:2: not valid JSON")


def test_a_missing_key_names_file_line_and_key(mix_dir, caplog, tmp_path):
    first, second = entries(mix_dir)
    del second["condition"]
    write_lines(mix_dir, [json.dumps(first), json.dumps(second)])
    expected = f"{mix_dir / 'manifest.jsonl'}:2: key 'condition' is missing"
    assert validate(caplog, mix_dir) == expected
    assert dump(caplog, mix_dir, tmp_path) == expected
    assert not list(tmp_path.glob("dump/**/feats*"))


def test_a_speaker_of_the_wrong_type_is_refused_by_scoring(mix_dir, caplog, tmp_path):
    first, second = entries(mix_dir)
    first["sources"][1]["spk"] = 3
    write_lines(mix_dir, [json.dumps(first), json.dumps(second)])
    message = failure(caplog, score.build_parser, score.main, [str(mix_dir), str(tmp_path / "decode")])
    assert message.startswith(f"{mix_dir / 'manifest.jsonl'}:1: key 'sources[1].spk' must be a non-empty string")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda lines: lines[:1], "ids differ from the mixtures of wav.scp (missing: ['mix0001_"),
        (lambda lines: [lines[0], lines[0], lines[1]], ":2: duplicated id 'mix0000_"),
        (lambda lines: [lines[0], "[1, 2]"], ":2: expected a JSON object, found list"),
        (lambda lines: [lines[0], "", lines[1]], ":2: empty line"),
    ],
)
def test_one_object_per_mixture_of_wav_scp(mix_dir, caplog, change, message):
    write_lines(mix_dir, change((mix_dir / "manifest.jsonl").read_text().splitlines()))
    assert message in validate(caplog, mix_dir)


def test_sources_must_match_the_speaker_count(mix_dir, caplog):
    first, second = entries(mix_dir)
    second["sources"] = second["sources"][:1]
    write_lines(mix_dir, [json.dumps(first), json.dumps(second)])
    assert validate(caplog, mix_dir) == (
        f"{mix_dir / 'manifest.jsonl'}:2: key 'sources' must be a list of 2 sources (one per spk<j>.scp), "
        "found 1 sources"
    )
