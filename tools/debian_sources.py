"""Private apt sources for bootstrap: the machine's own Debian mirror(s) and release suite, with contrib and non-free.

bootstrap.sh installs espeak-ng, mbrola and the MBROLA voices (Debian's contrib and non-free) through a private
sources list, so the system's apt configuration stays as it is. That list must name the mirror or proxy this site
reaches Debian through, so it is read from the machine's apt sources rather than written into the repository:
  - files: <root>/etc/apt/sources.list and <root>/etc/apt/sources.list.d/*.list (one-line format,
    `deb [options] URI suite components...`) and sources.list.d/*.sources (deb822 stanzas); other names, such as
    `x.list.disabled`, are skipped, as apt skips them;
  - entries kept: type `deb`, component `main`, and the release suite itself: the machine's VERSION_CODENAME
    (from <root>/etc/os-release) or a Debian alias such as `stable`. `-updates`, `-security` and `-backports` are
    left out: they hold only updated packages (the voices are in the release suite), and `-security` lives on
    another archive path;
  - written: each kept entry with its URI(s), suite and options (signed-by, arch, ...) as they are, and the
    components `main contrib non-free`; one-line entries into avvae.list, deb822 stanzas into avvae.sources.
Run by the system python3 (standard library only), before any virtual environment exists.
Usage: debian_sources.py [--root DIR] OUT_DIR
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

COMPONENTS = ("main", "contrib", "non-free")
RELEASE_ALIASES = frozenset({"stable", "oldstable", "oldoldstable", "testing", "unstable", "sid"})
PART_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.(list|sources)$")  # the names apt reads in sources.list.d
ONE_LINE = re.compile(r"^(?P<type>\S+)\s+(?:\[(?P<options>[^\]]*)\]\s*)?(?P<uri>\S+)\s+(?P<suite>\S+)\s*(?P<rest>.*)$")
FIELD = re.compile(r"^([^\s:#][^\s:]*):(.*)$")
DEB822_LISTS = ("types", "uris", "suites", "components", "enabled")
FALSE_WORDS = frozenset({"no", "false", "without", "off", "disable"})  # what apt reads as a false boolean


class SourcesError(ValueError):
    """The apt configuration is malformed, or names no Debian source."""


@dataclass(frozen=True)
class DebianSource:
    """One kept entry: its URIs and release suites, and what else it set (one-line options or deb822 fields)."""

    deb822: bool
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    extra: str  # one-line: the text inside [...] ("" when none); deb822: the other fields' lines, verbatim

    def render(self) -> str:
        """The entry with its components replaced by main, contrib and non-free."""
        if self.deb822:
            lines = [
                "Types: deb",
                f"URIs: {' '.join(self.uris)}",
                f"Suites: {' '.join(self.suites)}",
                f"Components: {' '.join(COMPONENTS)}",
            ]
            return "\n".join(lines + ([self.extra] if self.extra else [])) + "\n"
        options = f"[{self.extra}] " if self.extra else ""
        return "".join(
            f"deb {options}{uri} {suite} {' '.join(COMPONENTS)}\n" for uri in self.uris for suite in self.suites
        )


def read_codename(root: Path) -> str | None:
    """VERSION_CODENAME from <root>/etc/os-release (or usr/lib/os-release), None when neither file sets it."""
    for path in (root / "etc/os-release", root / "usr/lib/os-release"):
        if path.is_file():
            for line in path.read_text().splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "VERSION_CODENAME":
                    return value.strip().strip("\"'") or None
            return None
    return None


def source_files(root: Path) -> list[Path]:
    """The files apt reads, in apt's order: sources.list, then sources.list.d's .list and .sources by name."""
    etc = root / "etc/apt"
    parts = etc / "sources.list.d"
    names = sorted(p.name for p in parts.iterdir() if PART_NAME.match(p.name)) if parts.is_dir() else []
    return [etc / "sources.list"] + [parts / name for name in names]


def parse_one_line(path: Path, is_release: Callable[[str], bool]) -> list[DebianSource]:
    """The `deb` entries of a one-line-format file with component main and a release suite."""
    kept = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = ONE_LINE.match(line)
        if match is None or match["type"] not in ("deb", "deb-src"):
            raise SourcesError(f"{path}:{number}: not a `deb [options] URI suite components` line: {raw.strip()!r}")
        if match["type"] == "deb" and "main" in match["rest"].split() and is_release(match["suite"]):
            kept.append(DebianSource(False, (match["uri"],), (match["suite"],), (match["options"] or "").strip()))
    return kept


def deb822_stanzas(path: Path) -> list[list[tuple[int, str]]]:
    """The stanzas of a deb822 file as lists of (line number, line), comment lines dropped."""
    stanzas: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        if raw.startswith("#"):
            continue
        if not raw.strip():
            current = []
            continue
        if not current:
            stanzas.append(current)
        current.append((number, raw.rstrip()))
    return stanzas


def stanza_fields(path: Path, stanza: list[tuple[int, str]]) -> tuple[dict[str, list[str]], str]:
    """A stanza's list fields (Types, URIs, Suites, Components, Enabled) as words, and its other lines verbatim."""
    words: dict[str, list[str]] = {}
    other: list[str] = []
    name = None
    for number, line in stanza:
        continued = line[0] in " \t"
        if continued and name is None:
            raise SourcesError(f"{path}:{number}: a stanza starts with a continuation line: {line!r}")
        value = line
        if not continued:
            field = FIELD.match(line)
            if field is None:
                raise SourcesError(f"{path}:{number}: not a `Field: value` line in a stanza: {line!r}")
            name, value = field[1].lower(), field[2]
        if name in DEB822_LISTS:
            words.setdefault(name, []).extend(value.split())
        else:
            other.append(line)
    return words, "\n".join(other)


def parse_deb822(path: Path, is_release: Callable[[str], bool]) -> list[DebianSource]:
    """The enabled stanzas of a .sources file with type deb and component main, limited to their release suites."""
    kept = []
    for stanza in deb822_stanzas(path):
        words, other = stanza_fields(path, stanza)
        if " ".join(words.get("enabled", [])).lower() in FALSE_WORDS:
            continue
        missing = [field for field in ("types", "uris", "suites") if not words.get(field)]
        if missing:
            raise SourcesError(f"{path}:{stanza[0][0]}: the stanza has no {', '.join(missing)}")
        suites = tuple(suite for suite in words["suites"] if is_release(suite))
        if "deb" in words["types"] and "main" in words.get("components", []) and suites:
            kept.append(DebianSource(True, tuple(words["uris"]), suites, other))
    return kept


def find_debian_sources(root: Path) -> list[DebianSource]:
    """Every configured Debian entry under root, in apt's order; SourcesError naming the files when there is none."""
    codename = read_codename(root)

    def is_release(suite: str) -> bool:
        return suite == codename or suite in RELEASE_ALIASES

    files = source_files(root)
    kept = []
    for path in files:
        if path.is_file():
            kept += (parse_deb822 if path.suffix == ".sources" else parse_one_line)(path, is_release)
    if not kept:
        looked = ", ".join(f"{path}{'' if path.is_file() else ' (missing)'}" for path in files)
        release = f"'{codename}'" if codename else f"(no VERSION_CODENAME in {root / 'etc/os-release'})"
        raise SourcesError(
            f"no Debian source (type deb, component main, release suite {release} or one of "
            f"{', '.join(sorted(RELEASE_ALIASES))}) in: {looked}"
        )
    return kept


def write_private_sources(root: Path, out: Path) -> list[Path]:
    """Write out/avvae.list and/or out/avvae.sources for the Debian entries under root; the paths written."""
    texts: dict[str, dict[str, None]] = {"avvae.list": {}, "avvae.sources": {}}
    for source in find_debian_sources(root):
        texts["avvae.sources" if source.deb822 else "avvae.list"][source.render()] = None  # dict: dedup, ordered
    written = []
    for name, entries in texts.items():
        if entries:
            (out / name).write_text(("\n" if name.endswith(".sources") else "").join(entries))
            written.append(out / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=Path("/"), help="file system root holding etc/apt and etc/os-release (default: /)"
    )
    parser.add_argument("out", type=Path, help="existing folder to write avvae.list / avvae.sources into")
    args = parser.parse_args(argv)
    try:
        write_private_sources(args.root, args.out)
    except (SourcesError, OSError) as error:
        print(f"debian_sources: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
