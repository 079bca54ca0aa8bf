"""local/bench_mcem.py's arguments: an unknown sweep name is an argument error that lists the sweeps, before any
case runs; known names select just their sweeps."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_mcem", ROOT / "local" / "bench_mcem.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_unknown_sweep_is_an_argument_error_listing_the_sweeps(bench, capsys):
    with pytest.raises(SystemExit) as exit:
        bench.build_parser().parse_args(["--sweeps", "draws,sampelr"])
    assert exit.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.endswith(
        "error: argument --sweeps: unknown sweep 'sampelr' (the sweeps: seconds, speakers, draws, "
        "batch, sampler, chains, threads, adapt_step)"
    ), error


def test_the_named_sweeps_make_the_cases(bench):
    args = bench.build_parser().parse_args(["--sweeps", "draws,sampler", "--quick"])
    cases = bench.cases(args)
    assert [(case["sweep"], case["draws"], case["sampler"]) for case in cases] == [
        ("draws", 40, "mh"),
        ("sampler", 40, "mala"),
        ("sampler", 40, "variational"),
    ]
