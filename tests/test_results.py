"""RESULTS.md tables and plot from score TSVs."""

import csv

import numpy as np
import pytest
from scipy import stats

from avvae.results import System, comparison_markdown, mean_interval, results_markdown, write_results


def write_tsv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return path


def scores(rng, offset):
    return [{"key": f"mix{i:04d}", "speaker": str(1 + i % 2), "condition": f"snr{[-5, 0, 5][i % 3]}",
             "sdr_imp": offset + rng.normal(), "pesq": 2.0 + 0.1 * offset + rng.normal(0, 0.1),
             "stoi": 0.7 + rng.normal(0, 0.01)} for i in range(12)]


def test_mean_interval_matches_student_t():
    values = [1.0, 2.0, 4.0, float("nan"), 3.0]
    mean, half = mean_interval(values)
    finite = np.array([1.0, 2.0, 4.0, 3.0])
    assert mean == pytest.approx(2.5)
    assert half == pytest.approx(stats.t.ppf(0.975, 3) * finite.std(ddof=1) / 2)


def test_results_table_has_every_method_protocol_and_condition(tmp_path):
    rng = np.random.default_rng(0)
    systems = [
        System("Mixture", "both", (write_tsv(tmp_path / "mix.tsv", scores(rng, 0.0)),)),
        System("AV-VAE", "SI", (write_tsv(tmp_path / "si.tsv", scores(rng, 5.0)),)),
        System("AV-VAE", "SD", (write_tsv(tmp_path / "sd.tsv", scores(rng, 7.0)),)),
    ]
    write_results(systems, tmp_path, "mini_av")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| Method | SI -5 dB | SI 0 dB | SI 5 dB | SI all | SD -5 dB | SD 0 dB | SD 5 dB | SD all |" in text
    sdr_table = text.split("## SDR improvement (dB)")[1].split("##")[0]
    av_row = next(line for line in sdr_table.splitlines() if line.startswith("| AV-VAE"))
    with open(tmp_path / "si.tsv") as handle:
        si_all = mean_interval([float(row["sdr_imp"]) for row in csv.DictReader(handle, delimiter="\t")])
    assert f"{si_all[0]:.2f} ± {si_all[1]:.2f}" == av_row.split(" | ")[4]
    assert "## PESQ (wide-band)" in text and "## STOI" in text and "SIR improvement" not in text
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"


def test_a_second_score_file_adds_its_conditions_after_the_plain_snrs(tmp_path):
    rng = np.random.default_rng(1)
    seen = scores(rng, 2.0)
    unseen = [dict(row, condition="unseen-babble-snr-10") for row in scores(rng, 1.0)]
    files = (write_tsv(tmp_path / "seen.tsv", seen), write_tsv(tmp_path / "unseen.tsv", unseen))
    systems = [System("NMF", "SI", files)]
    text = results_markdown(systems, "mini_av")
    assert "| Method | SI -5 dB | SI 0 dB | SI 5 dB | SI unseen babble -10 dB | SI all |" in text
    sdr_table = text.split("## SDR improvement (dB)")[1].split("##")[0]
    cells = next(line for line in sdr_table.splitlines() if line.startswith("| NMF")).split(" | ")
    assert cells[4].startswith(f"{mean_interval([r['sdr_imp'] for r in unseen])[0]:.2f} ±")
    assert cells[5].startswith(f"{mean_interval([r['sdr_imp'] for r in seen + unseen])[0]:.2f} ±")


def test_the_comparison_states_the_difference_with_its_sign(tmp_path):
    rng = np.random.default_rng(2)
    systems = [System("AV-VAE", "SI", (write_tsv(tmp_path / "av.tsv", scores(rng, 5.0)),)),
               System("NMF", "SI", (write_tsv(tmp_path / "nmf.tsv", scores(rng, 7.0)),))]
    text = comparison_markdown(systems, "AV-VAE")
    av = mean_interval([row["sdr_imp"] for row in systems[0].rows()])[0]
    nmf = mean_interval([row["sdr_imp"] for row in systems[1].rows()])[0]
    assert f"- SI: AV-VAE {av:.2f} vs NMF {nmf:.2f}: {av - nmf:+.2f} dB (worse)" in text
