"""RESULTS.md tables and plot from score TSVs: metric order, cells that count non-finite values, rows marked for
the best speaker permutation, the PESQ floor, the comparison, and the rows of tagged variants."""

import csv
import math

import numpy as np
import pytest
from scipy import stats

from avvae.bin.make_results import find_systems, system_of
from avvae.evaluation.results import (
    System,
    comparison_markdown,
    format_cell,
    mean_interval,
    read_scores,
    results_markdown,
    write_results,
)


def write_tsv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return path


def scores(rng, offset, permutation="fixed"):
    return [
        {
            "key": f"mix{i:04d}",
            "speaker": str(1 + i % 2),
            "condition": f"snr{[-5, 0, 5][i % 3]}",
            "si_sdr_imp": offset + rng.normal(),
            "sdr_imp": offset + rng.normal(),
            "pesq": 1.03 + 0.1 * offset * (i % 2) + rng.normal(0, 0.005),
            "stoi": 0.7 + rng.normal(0, 0.01),
            "estimate": str(1 + i % 2),
            "permutation": permutation,
        }
        for i in range(12)
    ]


def table(text, label):
    return text.split(f"## {label}\n")[1].split("##")[0]


def row_cells(section, label):
    return next(line for line in section.splitlines() if line.startswith(f"| {label} |")).split(" | ")


def test_mean_interval_matches_student_t_over_the_finite_values():
    values = [1.0, 2.0, 4.0, float("nan"), 3.0, -math.inf]
    mean, half = mean_interval(values)
    finite = np.array([1.0, 2.0, 4.0, 3.0])
    assert mean == pytest.approx(2.5)
    assert half == pytest.approx(stats.t.ppf(0.975, 3) * finite.std(ddof=1) / 2)


def test_a_cell_counts_its_infinite_and_undefined_values():
    assert format_cell([1.0, 2.0, 4.0, 3.0]) == f"2.50 ± {mean_interval([1.0, 2.0, 4.0, 3.0])[1]:.2f}"
    assert format_cell([1.0, 3.0, -math.inf, math.nan, -math.inf]).endswith(" (2 -inf, 1 n/a)")
    assert format_cell([1.0, 3.0, -math.inf]).startswith("2.00 ± ")
    assert format_cell([-math.inf] * 4) == "– (4 -inf)"
    assert format_cell([math.nan, 5.0]) == "5.00 (1 n/a)"


def test_results_lead_with_si_sdr_and_stoi_and_fill_every_protocol_and_condition(tmp_path):
    rng = np.random.default_rng(0)
    systems = [
        System("Mixture", "both", (write_tsv(tmp_path / "mix.tsv", scores(rng, 0.0)),)),
        System("AV-VAE", "SI", (write_tsv(tmp_path / "si.tsv", scores(rng, 5.0)),)),
        System("AV-VAE", "SD", (write_tsv(tmp_path / "sd.tsv", scores(rng, 7.0)),)),
    ]
    write_results(systems, tmp_path, "mini_av")
    text = (tmp_path / "RESULTS.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[:4] == [
        "## SI-SDR improvement (dB)",
        "## STOI",
        "## SDR improvement (dB), BSS Eval v4",
        "## PESQ (wide-band)",
    ], "STOI improvement, v3 SDR, SIR and SAR absent from these files"
    assert "SDR here is BSS" in text and "rewards attenuation" in text and "†" not in text
    assert "| Method | SI -5 dB | SI 0 dB | SI 5 dB | SI all | SD -5 dB | SD 0 dB | SD 5 dB | SD all |" in text
    with open(tmp_path / "si.tsv") as handle:
        si_all = mean_interval([float(row["si_sdr_imp"]) for row in csv.DictReader(handle, delimiter="\t")])
    assert f"{si_all[0]:.2f} ± {si_all[1]:.2f}" == row_cells(table(text, "SI-SDR improvement (dB)"), "AV-VAE")[4]
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"


def test_pesq_table_counts_the_estimates_at_its_floor(tmp_path):
    rng = np.random.default_rng(3)
    rows = scores(rng, 5.0)  # odd rows about 1.53, even rows about 1.03: at the floor
    systems = [
        System("NMF", "SI", (write_tsv(tmp_path / "si.tsv", rows),)),
        System("NMF", "SD", (write_tsv(tmp_path / "sd.tsv", [dict(r, pesq=2.5) for r in rows]),)),
    ]
    pesq = table(results_markdown(systems, "mini_av"), "PESQ (wide-band)")
    assert "| SI at floor | SD at floor |" in pesq
    assert row_cells(pesq, "NMF")[-2:] == ["6/12", "0/12 |"]
    assert "At floor: estimates" in pesq


def test_non_finite_values_are_counted_and_best_permutation_rows_marked(tmp_path):
    rng = np.random.default_rng(4)
    silence = [dict(row, si_sdr_imp=-math.inf, pesq=math.nan) for row in scores(rng, 0.0)]
    nmf_si, nmf_sd = scores(rng, 3.0, permutation="best"), scores(rng, 4.0)
    avae = scores(rng, 2.0, permutation="best")
    systems = [
        System("Silence", "both", (write_tsv(tmp_path / "silence.tsv", silence),)),
        System("NMF", "SI", (write_tsv(tmp_path / "nmf_si.tsv", nmf_si),)),
        System("NMF", "SD", (write_tsv(tmp_path / "nmf_sd.tsv", nmf_sd),)),
        System("A-VAE", "SI", (write_tsv(tmp_path / "avae.tsv", avae),)),
    ]
    text = results_markdown(systems, "mini_av")
    si_sdr = table(text, "SI-SDR improvement (dB)")
    assert row_cells(si_sdr, "Silence")[1:] == ["– (4 -inf)"] * 3 + ["– (12 -inf)"] + ["– (4 -inf)"] * 3 + [
        "– (12 -inf) |"
    ]
    assert "| NMF † (SI) |" in si_sdr and "| A-VAE † |" in si_sdr
    assert "†: scored with the best speaker permutation" in text
    assert row_cells(table(text, "PESQ (wide-band)"), "Silence")[-2:] == ["0/0", "0/0 |"]
    assert "nan" not in text.split("## Score files")[0]


def test_a_second_score_file_adds_its_conditions_after_the_plain_snrs(tmp_path):
    rng = np.random.default_rng(1)
    seen = scores(rng, 2.0)
    unseen = [dict(row, condition="unseen-babble-snr-10") for row in scores(rng, 1.0)]
    files = (write_tsv(tmp_path / "seen.tsv", seen), write_tsv(tmp_path / "unseen.tsv", unseen))
    systems = [System("NMF", "SI", files)]
    text = results_markdown(systems, "mini_av")
    assert "| Method | SI -5 dB | SI 0 dB | SI 5 dB | SI unseen babble -10 dB | SI all |" in text
    cells = row_cells(table(text, "SDR improvement (dB), BSS Eval v4"), "NMF")
    assert cells[4].startswith(f"{mean_interval([r['sdr_imp'] for r in unseen])[0]:.2f} ±")
    assert cells[5].startswith(f"{mean_interval([r['sdr_imp'] for r in seen + unseen])[0]:.2f} ±")


def test_score_files_of_the_first_format_are_read_and_bad_values_named(tmp_path):
    rng = np.random.default_rng(5)
    old = [{k: v for k, v in row.items() if k not in ("estimate", "permutation")} for row in scores(rng, 1.0)]
    rows = read_scores(write_tsv(tmp_path / "old.tsv", old))
    assert len(rows) == 12 and isinstance(rows[0]["sdr_imp"], float) and "permutation" not in rows[0]
    assert "†" not in results_markdown([System("NMF", "SI", (tmp_path / "old.tsv",))], "mini_av")
    old[3]["pesq"] = "oops"
    with pytest.raises(ValueError, match=r"bad.tsv:5: column 'pesq' is 'oops', not a number"):
        read_scores(write_tsv(tmp_path / "bad.tsv", old))


def test_the_comparison_states_the_difference_with_its_sign(tmp_path):
    rng = np.random.default_rng(2)
    silence = [dict(row, si_sdr_imp=-math.inf) for row in scores(rng, 0.0)]
    systems = [
        System("AV-VAE", "SI", (write_tsv(tmp_path / "av.tsv", scores(rng, 5.0)),)),
        System("NMF", "SI", (write_tsv(tmp_path / "nmf.tsv", scores(rng, 7.0)),)),
        System("Silence", "both", (write_tsv(tmp_path / "silence.tsv", silence),)),
    ]
    text = comparison_markdown(systems, "AV-VAE")
    av = mean_interval([row["si_sdr_imp"] for row in systems[0].rows()])[0]
    nmf = mean_interval([row["si_sdr_imp"] for row in systems[1].rows()])[0]
    assert "Difference of the mean SI-SDR improvement (dB)" in text
    assert f"- SI: AV-VAE {av:.2f} vs NMF {nmf:.2f}: {av - nmf:+.2f} dB (worse)" in text
    assert f"- SI: AV-VAE {av:.2f} vs Silence – (12 -inf): no finite values to compare" in text


def test_error_budget_tables_follow_the_metrics_when_every_score_file_has_them(tmp_path):
    rng = np.random.default_rng(7)
    budget = {"order_loss": 1.5, "leakage_share": 60.0, "noise_share": 30.0, "artifact_share": 10.0}
    with_budget = [dict(row, **budget) for row in scores(rng, 5.0)]
    systems = [System("AV-VAE", "SI", (write_tsv(tmp_path / "si.tsv", with_budget),))]
    text = results_markdown(systems, "mini_av")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[-5:-1] == [
        "## Error budget: SI-SDR lost to the speaker order (dB)",
        "## Error budget: the other talkers' share of the error (%)",
        "## Error budget: the noise's share of the error (%)",
        "## Error budget: the share of neither (%)",
    ]
    leakage = table(text, "Error budget: the other talkers' share of the error (%)")
    assert row_cells(leakage, "AV-VAE")[4] == "60.00 ± 0.00"
    assert "what a wrong speaker order costs" in table(text, "Error budget: SI-SDR lost to the speaker order (dB)")
    systems.append(System("NMF", "SI", (write_tsv(tmp_path / "old.tsv", scores(rng, 1.0)),)))
    assert "Error budget" not in results_markdown(systems, "mini_av"), "a score file without them: no table"


def test_a_tagged_variant_has_rows_of_its_own_with_its_protocol(tmp_path):
    """exp/<system>_<tag> (steps/avvae.sh --tag): the label ends in [tag], the protocol still comes from _si/_sd."""
    assert [
        (s.method, s.protocol)
        for s in (
            system_of(name, ())
            for name in (
                "avvae_si",
                "avvae_si_x",
                "avvae_sd_lr1e-4",
                "oracle_latent_avvae_si_x",
                "supervised_x",
                "nmf_sd_x",
                "mixture",
                "my_system",
            )
        )
    ] == [
        ("AV-VAE + MCEM", "SI"),
        ("AV-VAE + MCEM [x]", "SI"),
        ("AV-VAE + MCEM [lr1e-4]", "SD"),
        ("AV-VAE oracle latent [x]", "SI"),
        ("Supervised AV [x]", "SI"),
        ("NMF [x]", "SD"),
        ("Mixture (unprocessed)", "both"),
        ("my_system", "both"),
    ]
    rng = np.random.default_rng(8)
    for name, offset in (("avvae_si", 5.0), ("avvae_si_x", 6.0), ("avvae_sd_x", 7.0)):
        (tmp_path / "exp" / name / "decode_test_mix").mkdir(parents=True)
        write_tsv(tmp_path / "exp" / name / "decode_test_mix" / "scores.tsv", scores(rng, offset))
    text = results_markdown(
        find_systems(tmp_path / "exp", ["test_mix"], ["avvae_si", "avvae_si_x", "avvae_sd_x"]), "mini_av"
    )
    si_sdr = table(text, "SI-SDR improvement (dB)")
    assert row_cells(si_sdr, "AV-VAE + MCEM")[5:] == ["", "", "", " |"], "untagged: SI only"
    tagged = row_cells(si_sdr, "AV-VAE + MCEM [x]")
    assert all(cell.strip(" |") for cell in tagged[1:]), "the tagged variant: SI and SD"
