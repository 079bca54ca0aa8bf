"""The package as pyproject.toml builds it: a wheel with every module of avvae/ and the console scripts, which
installs (as a wheel, or editable as tools/bootstrap.sh installs it) into a fresh environment and runs there
outside the checkout; and requirements.txt, the environment bootstrap installs, satisfying pyproject's dependencies.

Builds and installs use this interpreter's setuptools and pip, offline: no build isolation, no index."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]
BUILD_TOOLS = {"setuptools"}  # in requirements.txt for bootstrap's offline build of the editable install


def source_modules() -> set[str]:
    return {path.relative_to(ROOT).as_posix() for path in (ROOT / "avvae").rglob("*.py")}


def pip(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """What a build reads, copied (a build writes build/ and *.egg-info/ beside pyproject.toml)."""
    folder = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "LICENSE"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copytree(ROOT / "avvae", folder / "avvae", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return folder


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(out), ".", cwd=source)
    (path,) = out.glob("avvae-*.whl")
    return path


def fresh_venv(folder: Path) -> Path:
    """A new environment that sees this interpreter's packages (torch & co.) after its own.

    Not `venv --system-site-packages`: made from a venv's python, that shows the base interpreter's packages, not
    the venv's. A .pth file adds this interpreter's site-packages to its path, behind its own site-packages (and
    without running the .pth files there, so an editable avvae installed there stays out)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=60)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def outside(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run from a folder away from the checkout, without the PYTHONPATH tests/conftest.py sets."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_the_wheel_holds_every_module_and_the_console_scripts(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        listed = archive.read(entry_points).decode()
    assert {name for name in names if name.endswith(".py")} == source_modules()
    assert {name for name in names if ".dist-info/" not in name} == source_modules()  # nothing else
    assert listed.startswith("[console_scripts]\n") and "avvae-separate" in SCRIPTS
    assert dict(line.split(" = ") for line in listed.splitlines()[1:] if line) == SCRIPTS


@pytest.mark.parametrize("command, target", SCRIPTS.items())
def test_each_console_script_names_a_command_line_module(command, target):
    module, function = target.split(":")
    assert module.startswith("avvae.bin.") and command == "avvae-" + module.removeprefix("avvae.bin.").replace("_", "-")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.slow
@pytest.mark.parametrize("editable", [False, True], ids=["wheel", "editable"])
def test_installed_it_runs_outside_the_checkout(editable, source, wheel, tmp_path):
    python = fresh_venv(tmp_path / "venv")
    pip(
        "--python",
        str(python),
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-q",
        *(["-e", str(source)] if editable else [str(wheel)]),
        cwd=tmp_path,
    )
    away = tmp_path / "elsewhere"
    away.mkdir()
    where = outside([str(python), "-c", "import avvae, avvae.bin.separate; print(avvae.__file__)"], away)
    assert where.returncode == 0, where.stderr
    home = source if editable else tmp_path / "venv"
    assert Path(where.stdout.strip()).is_relative_to(home), where.stdout
    assert sorted(path.name for path in (tmp_path / "venv" / "bin").glob("avvae-*")) == sorted(SCRIPTS)
    usage = outside([str(tmp_path / "venv" / "bin" / "avvae-separate"), "--help"], away)
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith("usage: avvae-separate ")


def test_requirements_txt_satisfies_the_dependencies_and_holds_nothing_else():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pins = {}
    for line in lines:
        if line and not line.startswith("#"):
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"requirements.txt pins every package exactly: {line}"
            pins[canonicalize_name(requirement.name)] = specifier.version
    needed = [
        Requirement(line)
        for line in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]
    ]
    for requirement in needed:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"requirements.txt lacks {requirement}"
        assert requirement.specifier.contains(pins[name]), f"requirements.txt's {name}=={pins[name]}: {requirement}"
    assert set(pins) - {canonicalize_name(requirement.name) for requirement in needed} == BUILD_TOOLS
    build = Requirement(PYPROJECT["build-system"]["requires"][0])
    assert build.specifier.contains(pins[canonicalize_name(build.name)])
