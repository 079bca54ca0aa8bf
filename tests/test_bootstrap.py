"""tools/bootstrap.sh: its private apt sources, read from fake apt configuration trees (never from this machine's), and
when it installs into .venv again (in a copy whose .venv only logs what it is asked)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("debian_sources", ROOT / "tools/debian_sources.py")
debian_sources = importlib.util.module_from_spec(SPEC)
sys.modules["debian_sources"] = debian_sources
SPEC.loader.exec_module(debian_sources)

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME="bookworm"\n'

# deb822, as Debian's images ship it: the release and -updates in one stanza, -security in another, comments.
DEBIAN_SOURCES = """Types: deb
# a comment inside the stanza
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
THIRD_PARTY_SOURCES = """Types: deb
URIs: https://node.example.com/node_20.x
Suites: nodistro
Components: main
"""
SOURCES_LIST = """# the site's proxy, with options
deb [ arch=amd64 signed-by=/usr/share/keyrings/site.gpg ] http://proxy.example.org:3142/debian bookworm main
deb-src http://proxy.example.org:3142/debian bookworm main
deb http://proxy.example.org:3142/debian bookworm-updates main  # updates: left out
deb http://proxy.example.org:3142/debian-security bookworm-security main
deb https://vendor.example.com/apt bookworm stable
"""


def tree(tmp_path: Path, files: dict[str, str], os_release: str = OS_RELEASE) -> Path:
    """A fake file system root with etc/os-release and the given files under etc/apt."""
    (tmp_path / "etc/apt/sources.list.d").mkdir(parents=True)
    (tmp_path / "etc/os-release").write_text(os_release)
    for name, text in files.items():
        (tmp_path / "etc/apt" / name).write_text(text)
    return tmp_path


def written(root: Path, out: Path) -> dict[str, str]:
    out.mkdir()
    paths = debian_sources.write_private_sources(root, out)
    assert sorted(paths) == sorted(out.iterdir())
    return {path.name: path.read_text() for path in paths}


def test_deb822_only_keeps_the_release_suite_with_its_options(tmp_path):
    root = tree(
        tmp_path / "root",
        {"sources.list.d/debian.sources": DEBIAN_SOURCES, "sources.list.d/node.sources": THIRD_PARTY_SOURCES},
    )
    assert written(root, tmp_path / "out") == {
        "avvae.sources": (
            "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: bookworm\nComponents: main contrib non-free\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        )
    }


def test_sources_list_only_keeps_deb_lines_of_the_release_with_main(tmp_path):
    root = tree(tmp_path / "root", {"sources.list": SOURCES_LIST})
    assert written(root, tmp_path / "out") == {
        "avvae.list": (
            "deb [arch=amd64 signed-by=/usr/share/keyrings/site.gpg] http://proxy.example.org:3142/debian bookworm "
            "main contrib non-free\n"
        )
    }


def test_mixed_tree_in_apt_order_skipping_other_file_names(tmp_path):
    root = tree(
        tmp_path / "root",
        {
            "sources.list": "deb http://a.example.org/debian stable main contrib\n",
            "sources.list.d/b.list": "deb http://b.example.org/debian bookworm main\n"
            "deb http://a.example.org/debian stable main contrib\n",  # a duplicate: once
            "sources.list.d/a.sources": DEBIAN_SOURCES,
            "sources.list.d/c.list.disabled-by-farm": "deb http://skipped.example.org/debian bookworm main\n",
            "sources.list.d/d.sources.save": DEBIAN_SOURCES.replace("mirror.example.org", "skipped.example.org"),
            "sources.list.d/e f.list": "deb http://skipped.example.org/debian bookworm main\n",
        },
    )
    out = written(root, tmp_path / "out")
    assert out["avvae.list"] == (
        "deb http://a.example.org/debian stable main contrib non-free\n"
        "deb http://b.example.org/debian bookworm main contrib non-free\n"
    )
    assert out["avvae.sources"].startswith("Types: deb\nURIs: http://mirror.example.org/debian\nSuites: bookworm\n")
    assert "skipped" not in "".join(out.values())


def test_several_uris_and_suites_per_stanza_and_continued_fields(tmp_path):
    stanza = (
        "Types: deb-src deb\nURIs: http://a.example.org/debian\n http://b.example.org/debian\n"
        "Suites: testing bookworm-backports\n bookworm\nComponents: main\nArchitectures: amd64\n"
        "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n xsBNBF\n -----END PGP PUBLIC KEY BLOCK-----\n"
    )
    root = tree(tmp_path / "root", {"sources.list.d/site.sources": stanza})
    assert written(root, tmp_path / "out")["avvae.sources"] == (
        "Types: deb\nURIs: http://a.example.org/debian http://b.example.org/debian\nSuites: testing bookworm\n"
        "Components: main contrib non-free\nArchitectures: amd64\n"
        "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n xsBNBF\n -----END PGP PUBLIC KEY BLOCK-----\n"
    )


def test_disabled_stanzas_are_skipped(tmp_path):
    disabled = DEBIAN_SOURCES.replace("Types: deb\n", "Enabled: no\nTypes: deb\n", 1)
    kept = "Types: deb\nURIs: http://kept.example.org/debian\nSuites: bookworm\nComponents: main\nEnabled: yes\n"
    root = tree(tmp_path / "root", {"sources.list.d/debian.sources": disabled + "\n" + kept})
    assert written(root, tmp_path / "out") == {
        "avvae.sources": (
            "Types: deb\nURIs: http://kept.example.org/debian\nSuites: bookworm\nComponents: main contrib non-free\n"
        )
    }
    (root / "etc/apt/sources.list.d/debian.sources").write_text(disabled)
    with pytest.raises(debian_sources.SourcesError, match="no Debian source"):
        debian_sources.find_debian_sources(root)


def test_only_non_debian_sources_is_an_error_naming_the_files(tmp_path):
    vendor = "deb https://vendor.example.com/apt bookworm stable\n"
    root = tree(
        tmp_path / "root",
        {
            "sources.list.d/node.sources": THIRD_PARTY_SOURCES,
            "sources.list.d/vendor.list": vendor,
            "sources.list.d/debian.sources.disabled-by-farm": DEBIAN_SOURCES,
        },
    )
    with pytest.raises(debian_sources.SourcesError) as error:
        debian_sources.find_debian_sources(root)
    message = str(error.value)
    assert "'bookworm'" in message
    for name in ("sources.list (missing)", "sources.list.d/node.sources", "sources.list.d/vendor.list"):
        assert f"{root}/etc/apt/{name}" in message
    assert "disabled-by-farm" not in message


def test_release_suite_comes_from_the_trees_os_release(tmp_path):
    root = tree(
        tmp_path / "root",
        {
            "sources.list": "deb http://a.example.org/debian trixie main\n"
            "deb http://a.example.org/debian bookworm main\n"
        },
        os_release="ID=debian\nVERSION_CODENAME=trixie\n",
    )
    assert written(root, tmp_path / "out") == {
        "avvae.list": "deb http://a.example.org/debian trixie main contrib non-free\n"
    }


@pytest.mark.parametrize(
    "name, text, where",
    [
        ("sources.list", "# fine\ndeb http://a.example.org/debian\n", "sources.list:2: not a `deb"),
        (
            "sources.list.d/x.sources",
            "Types: deb\nURIs: http://a.example.org/debian\nComponents: main\n",
            "x.sources:1: the stanza has no suites",
        ),
        ("sources.list.d/x.sources", "\nTypes: deb\nURIs http://a.example.org/debian\n", "x.sources:3: not a `Field"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, name, text, where):
    root = tree(tmp_path / "root", {name: text})
    with pytest.raises(debian_sources.SourcesError, match=re.escape(where)):
        debian_sources.find_debian_sources(root)


def bootstrap(apt_root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AVVAE_APT_ROOT": str(apt_root), "AVVAE_BOOTSTRAP_PRINT_SOURCES": "1"}
    return subprocess.run(
        ["bash", str(ROOT / "tools/bootstrap.sh")], capture_output=True, text=True, env=env, timeout=60
    )


def test_bootstrap_prints_the_private_sources_it_would_write(tmp_path):
    root = tree(tmp_path, {"sources.list": SOURCES_LIST, "sources.list.d/debian.sources": DEBIAN_SOURCES})
    result = bootstrap(root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "# avvae.list\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/site.gpg] http://proxy.example.org:3142/debian bookworm "
        "main contrib non-free\n"
        "# avvae.sources\n"
        "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: bookworm\nComponents: main contrib non-free\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def test_bootstrap_stops_when_no_debian_source_is_configured(tmp_path):
    root = tree(tmp_path, {"sources.list.d/node.sources": THIRD_PARTY_SOURCES})
    result = bootstrap(root)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no Debian source" in result.stderr and f"{root}/etc/apt/sources.list.d/node.sources" in result.stderr


def test_readme_lists_the_voices_bootstrap_installs():
    voices = re.search(r'^voices="([^"]*)"', (ROOT / "tools/bootstrap.sh").read_text(), re.M)[1].split()
    readme = (ROOT / "README.md").read_text()
    listed = re.search(
        r"and (\w+) MBROLA voices \(recorded diphone\s+voices, from Debian's `non-free`: ([^)]*)\)", readme
    )
    names = listed[2].replace("us1-3", "us1, us2, us3").split(", ")
    assert sorted(names) == sorted(voices) and {"de6", "gr2"} <= set(voices)
    assert listed[1] == "fifteen" and len(voices) == 15
    assert not {"de3", "de4", "hu1", "pl1", "ro1"} & set(voices)


def bootstrap_copy(tmp_path: Path) -> Path:
    """A copy of bootstrap and its inputs whose .venv/bin/python only logs each call's arguments, one a line."""
    root = tmp_path / "root"
    (root / "tools").mkdir(parents=True)
    for name in ("tools/bootstrap.sh", "tools/debian_sources.py", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, root / name)
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "$*" >> "$(dirname "$0")/../calls"\n')
    python.chmod(0o755)
    return root


def installs(root: Path) -> list[str]:
    """The python calls of one bootstrap run in the copy (the Debian packages being there, it installs none)."""
    calls = root / ".venv" / "calls"
    calls.unlink(missing_ok=True)
    env = {name: value for name, value in os.environ.items() if not name.startswith("AVVAE_BOOTSTRAP_")}
    result = subprocess.run(
        ["bash", str(root / "tools/bootstrap.sh")], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize("changed", ["pyproject.toml", "requirements.txt"])
def test_bootstrap_installs_the_project_editable_again_when_its_inputs_change(tmp_path, changed):
    voices = re.search(r'^voices="([^"]*)"', (ROOT / "tools/bootstrap.sh").read_text(), re.M)[1].split()
    missing = [name for name in ("espeak-ng", "mbrola") if shutil.which(name) is None]
    missing += [f"mbrola-{voice}" for voice in voices if not Path(f"/usr/share/mbrola/{voice}/{voice}").is_file()]
    if missing:
        pytest.skip(f"bootstrap would install Debian packages first: {' '.join(missing)}")
    root = bootstrap_copy(tmp_path)
    everything = [
        "-m pip install -q --upgrade pip",
        "-m pip install -q -r requirements.txt",
        "-m pip install -q --no-deps --no-build-isolation -e .",
    ]
    assert installs(root) == everything
    assert installs(root) == []  # up to date: a rerun installs nothing
    with open(root / changed, "a") as file:
        file.write("# changed\n")
    assert installs(root) == everything
    assert installs(root) == []
