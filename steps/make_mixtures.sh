#!/usr/bin/env bash
# Draw the mixtures of a speech data dir plus noise into a mixture data dir (manifest.jsonl rebuilds each one).
# The done marker records the mix config and the input data dirs: mixtures made from others are refused, or redone
# with --force true.
set -euo pipefail
. "$(dirname "$0")/../utils/log.sh"

# Options (--name value):
mix_config=conf/mix.yaml   # number of speakers, SNR/SIR lists, noise types, seed
audio_dir=                 # where the mixture wavs go (default: <out-dir>/audio)
force=false                # true: redo mixtures made from another config or data dir instead of refusing them

help_message="Usage: $0 [options] <speech-dir> <noise-dir> <out-dir>
e.g.: $0 --mix-config conf/mix.yaml data/test data/noise_test data/test_mix
Options:
  --mix-config <yaml>   # mixing config (default: ${mix_config})
  --audio-dir <dir>     # where mixture audio is written (default: <out-dir>/audio)
  --force <bool>        # redo stale mixtures (other config or data dirs) instead of refusing them (default: ${force})"

log "$0 $*"
. "$(dirname "$0")/../utils/parse_options.sh"
if [ $# -ne 3 ]; then echo "${help_message}" >&2; exit 1; fi
speech=$1
noise=$2
out=$3
[ -n "${audio_dir}" ] || audio_dir=${out}/audio

provenance=(--what "the mixtures" --input "${mix_config}" --data-dir "${speech}" --data-dir "${noise}"
  --option "audio_dir=${audio_dir}")
state=$(python -m avvae.bin.stage_done check "${out}" --force "${force}" --remove "${out}" --remove "${audio_dir}" \
  "${provenance[@]}")
if [ "${state}" = "done" ]; then log "${out} is complete, skipping"; exit 0; fi
python -m avvae.bin.validate_data_dir "${speech}"
python -m avvae.bin.validate_data_dir --no-lips "${noise}"
mkdir -p "${out}/log"
python -m avvae.bin.make_mixtures --config "${mix_config}" "${speech}" "${noise}" "${out}" "${audio_dir}" \
  2> >(tee "${out}/log/make_mixtures.log" >&2)
cp "${mix_config}" "${out}/mix.yaml"
python -m avvae.bin.validate_data_dir "${out}"
python -m avvae.bin.stage_done write "${out}" "${provenance[@]}"
