"""steps/avvae.sh --tag through the stages that train, decode, score and tabulate: the variant's folders are
exp/<system>_<tag> from training to RESULTS.md, the references stay shared, and a tag that would blur the folder
names is refused. The steps scripts are stand-ins that write down how they were called (no training happens)."""

import numpy as np
import pytest

from tests.recipe import copy_recipe, run_script
from tests.test_results import scores, write_tsv

CALLED = "called.txt"
STAND_IN = f"""#!/usr/bin/env bash
echo "$(basename "$0") $*" >> {CALLED}
"""
# steps/score.sh's stand-in: a score file in every decode dir it is given, for stage 9
SCORE_STAND_IN = (
    STAND_IN
    + """for dir in "$@"; do
  case ${dir} in */decode_*) mkdir -p "${dir}" && cp template_scores.tsv "${dir}/scores.tsv" ;; esac
done
"""
)
MODELS = ("--si_models", "avvae", "--sd_models", "avvae", "--oracle_latent_models", "")


@pytest.fixture
def recipe(tmp_path):
    """mini_av with stand-ins for steps/train.sh, decode.sh and score.sh, and the SD speakers' list."""
    recipe = copy_recipe(tmp_path)
    for script, text in (("train.sh", STAND_IN), ("decode.sh", STAND_IN), ("score.sh", SCORE_STAND_IN)):
        (recipe / "steps" / script).write_text(text)
    (recipe / "data" / "train_sd").mkdir(parents=True)
    (recipe / "data" / "train_sd" / "spk2utt").write_text("spkA a1 a2\n")
    write_tsv(recipe / "template_scores.tsv", scores(np.random.default_rng(0), 3.0))
    return recipe


def calls(recipe, script: str) -> list[str]:
    return [line for line in (recipe / CALLED).read_text().splitlines() if line.startswith(f"{script} ")]


@pytest.mark.recipe
def test_a_tagged_run_trains_decodes_scores_and_tabulates_its_own_folders(recipe):
    run_script(recipe, "--stage", "4", "--stop_stage", "5", "--tag", "x", *MODELS)
    trained = calls(recipe, "train.sh")
    assert [line.split()[-1] for line in trained] == ["exp/avvae_si_x", "exp/supervised_x", "exp/avvae_sd_x/spkA"]
    assert "--init exp/avvae_si_x/model.pt" in trained[-1]

    run_script(recipe, "--stage", "7", "--stop_stage", "9", "--tag", "x", "--unseen_mix_config", "", *MODELS)
    decoded = {line.split()[-1]: line for line in calls(recipe, "decode.sh")}
    assert sorted(decoded) == sorted(
        f"exp/{name}/decode_test_mix"
        for name in ("mixture", "silence", "oracle", "nmf_sd_x", "nmf_si_x", "avvae_si_x", "avvae_sd_x", "supervised_x")
    )
    assert "--model-dir exp/avvae_sd_x --speaker-dependent" in decoded["exp/avvae_sd_x/decode_test_mix"]
    assert "--nmf-dir exp/nmf_si_x" in decoded["exp/nmf_si_x/decode_test_mix"]
    (scored,) = calls(recipe, "score.sh")
    assert "--log-dir exp/score_test_mix_x/log" in scored and "exp/mixture/decode_test_mix" in scored
    results = (recipe / "exp" / "results_x" / "RESULTS.md").read_text()
    assert results.startswith("# mini_av [x]\n")
    for label in ("Mixture (unprocessed)", "NMF [x]", "AV-VAE + MCEM [x]", "Supervised AV [x]"):
        assert f"| {label} |" in results
    assert not (recipe / "RESULTS.md").read_text().startswith("# mini_av [x]"), "the untagged run's stays"


def test_a_tag_with_an_underscore_or_a_slash_is_refused(recipe):
    for tag in ("a_b", "a/b"):
        refused = run_script(recipe, "--stage", "4", "--stop_stage", "4", "--tag", tag, check=False)
        assert refused.returncode != 0
        assert f"--tag '{tag}': only letters, digits, '.', '+' and '-'" in refused.stdout
    assert not (recipe / CALLED).exists()
