#!/usr/bin/env bash
# Installs what is missing, and nothing that is already there:
#   1. Debian packages the embedded corpus needs: espeak-ng, MBROLA and its voices (from Debian's contrib and
#      non-free components, read through a private sources list so the system's apt configuration stays as is;
#      that list names the Debian mirror(s) and release suite the machine's own apt sources name, see
#      tools/debian_sources.py); with AVVAE_BOOTSTRAP_SLURM=1 also those of a single-node Slurm (slurmctld, slurmd,
#      slurm-client, munge), for trying and testing the cluster path with tools/slurm_local.sh (which starts it;
#      bootstrap only installs it);
#   2. a virtual environment .venv with the pinned requirements (torch is the CPU wheel), and the project itself
#      installed editable (its code stays here, its commands land in .venv/bin): reinstalled whenever
#      requirements.txt or pyproject.toml changes.
# Safe to rerun; takes a few seconds when everything is in place.
# Environment:
#   PYTHON                         python that runs tools/debian_sources.py and creates .venv (default python3)
#   AVVAE_APT_ROOT                 file system root whose etc/apt and etc/os-release are read (default /)
#   AVVAE_BOOTSTRAP_PRINT_SOURCES  when 1: print the private sources list(s) step 1 would use, and stop
#   AVVAE_BOOTSTRAP_SLURM          when 1: also install the Slurm and munge packages (the cluster tests need them)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "${root}"

voices="us1 us2 us3 en1 de1 de2 de5 de6 fr1 fr4 sw1 sw2 nl2 af1 gr2"
python=${PYTHON:-python3}
apt_root=${AVVAE_APT_ROOT:-/}

if [ "${AVVAE_BOOTSTRAP_PRINT_SOURCES:-0}" = 1 ]; then
  out=$(mktemp -d)
  "${python}" tools/debian_sources.py --root "${apt_root}" "${out}" || { rm -rf "${out}"; exit 1; }
  for file in "${out}"/*; do
    echo "# ${file##*/}"
    cat "${file}"
  done
  rm -rf "${out}"
  exit 0
fi

missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v mbrola >/dev/null || missing+=(mbrola)
for voice in ${voices}; do
  [ -f "/usr/share/mbrola/${voice}/${voice}" ] || missing+=("mbrola-${voice}")
done
if [ "${AVVAE_BOOTSTRAP_SLURM:-0}" = 1 ]; then
  for program_package in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
    PATH="${PATH}:/usr/sbin:/sbin" command -v "${program_package%%:*}" >/dev/null || missing+=("${program_package#*:}")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  lists=$(mktemp -d)
  chmod 755 "${lists}"   # apt downloads as the _apt user, which must reach the list folder
  mkdir -p "${lists}/state/partial" "${lists}/sources"   # apart: apt cleans what is not a list from its state
  "${python}" tools/debian_sources.py --root "${apt_root}" "${lists}/sources" || { rm -rf "${lists}"; exit 1; }
  apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=${lists}/sources"
            -o "Dir::State::Lists=${lists}/state")
  ${sudo} apt-get "${apt_opts[@]}" update -q >/dev/null
  ${sudo} env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -q --no-install-recommends \
    "${missing[@]}" >/dev/null
  ${sudo} rm -rf "${lists}"
fi

# The stamp holds the hash of what was installed from; the build of the editable install uses the setuptools of
# requirements.txt (no build isolation: nothing else is downloaded).
stamp=.venv/.bootstrap.sha256
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "${stamp}" ] || [ "$(cat "${stamp}")" != "${want}" ]; then
  echo "bootstrap: installing requirements.txt and the project (editable) into .venv"
  [ -x .venv/bin/python ] || "${python}" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  echo "${want}" > "${stamp}"
fi
echo "bootstrap: ready (activate with: . path.sh)"
