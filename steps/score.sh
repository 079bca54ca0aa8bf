#!/usr/bin/env bash
# Score a decode dir against its mixture data dir in nj jobs: <decode-dir>/scores.tsv, one row per speaker.
set -euo pipefail
. "$(dirname "$0")/../utils/log.sh"

# Options (--name value):
cmd=run.pl          # launcher (decode_cmd from cmd.sh)
nj=4                # parallel jobs
score_opts=""       # options for avvae.bin.score (e.g. --permutation-invariant)

help_message="Usage: $0 [options] <mix-data-dir> <decode-dir>
e.g.: $0 --nj 4 data/test_mix exp/avvae_si/decode_test_mix
Options:
  --cmd <launcher>      # (default: ${cmd})
  --nj <n>              # (default: ${nj})
  --score-opts <str>    # (default: '${score_opts}')"

log "$0 $*"
. "$(dirname "$0")/../utils/parse_options.sh"
if [ $# -ne 2 ]; then echo "${help_message}" >&2; exit 1; fi
data=$1
dir=$2

if [ -f "${dir}/scores.tsv" ]; then log "${dir}/scores.tsv exists, skipping"; exit 0; fi
[ -f "${dir}/.done.decode" ] || { echo "$0: ${dir} is not separated yet (run the decoding stage)" >&2; exit 1; }
num_mix=$(wc -l < "${data}/wav.scp")
[ "${nj}" -le "${num_mix}" ] || nj=${num_mix}
threads="env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"
start=$SECONDS
# shellcheck disable=SC2086
${cmd} JOB=1:${nj} "${dir}/log/score.JOB.log" \
  ${threads} python -m avvae.bin.score --nj "${nj}" --job JOB ${score_opts} "${data}" "${dir}"
# shellcheck disable=SC2086
python -m avvae.bin.score --nj "${nj}" --merge ${score_opts} "${data}" "${dir}"
log "scored ${dir} in $((SECONDS - start)) s: ${dir}/scores.tsv"
