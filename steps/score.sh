#!/usr/bin/env bash
# Score decode dirs of one mixture set against its mixture data dir in nj jobs: <decode-dir>/scores.tsv, one row
# per speaker. Each job scores its share of the mixtures for every decode dir at once, so that a mixture's
# references and its own scores (the baseline of the improvements) are computed once for all the systems.
# Each decode dir is scored in the speaker order its decode recorded (the best permutation where the system could
# not tell the speakers apart, else the fixed order), unless --score-opts says otherwise (--permutation-invariant
# <decode-dir>, --fixed-order <decode-dir>). Each decode dir's .done.score records the decode (its done marker), the
# mixtures scored against and the speaker order (best or fixed): scores of an earlier decode or in another order are
# refused, or made again with --force true.
set -euo pipefail
. "$(dirname "$0")/../utils/log.sh"
. "$(dirname "$0")/../utils/split_opts.sh"

# Options (--name value):
cmd=run.pl          # launcher (decode_cmd from cmd.sh)
nj=4                # parallel jobs
score_opts=""       # options for avvae.bin.score (e.g. --fixed-order <decode-dir>); quote paths with spaces
log_dir=""          # where the job logs go (default: <first decode-dir>/log)
force=false         # true: rescore a decode dir whose scores were made from another decode instead of refusing it

help_message="Usage: $0 [options] <mix-data-dir> <decode-dir> [<decode-dir> ...]
e.g.: $0 --nj 4 --score-opts '--fixed-order exp/nmf_si/decode_test_mix' \\
        data/test_mix exp/avvae_si/decode_test_mix exp/nmf_si/decode_test_mix
Options:
  --cmd <launcher>      # (default: ${cmd})
  --nj <n>              # (default: ${nj})
  --score-opts <str>    # (default: '${score_opts}')
  --log-dir <dir>       # (default: <first decode-dir>/log)
  --force <bool>        # rescore stale scores (another decode or mixture set) instead of refusing (default: ${force})"

log "$0 $*"
. "$(dirname "$0")/../utils/parse_options.sh"
if [ $# -lt 2 ]; then echo "${help_message}" >&2; exit 1; fi
data=$1
shift
dirs=("$@")
score_words=()  # the words of score_opts
split_opts score_words --score-opts "${score_opts}"
log_dir=${log_dir:-${dirs[0]}/log}

# the order each decode dir is scored in (best or fixed), by index in dirs
orders_text=$(python -m avvae.bin.score --print-order "${score_words[@]}" "${data}" "${dirs[@]}")
mapfile -t orders <<< "${orders_text}"
# provenance I: the scores' record of dirs[I], in the array of that name
provenance() {
  provenance=(--what "scores.tsv" --name score --input "${dirs[$1]}/.done.decode" --input "${data}/wav.scp"
    --option "permutation=${orders[$1]}")
}
todo=()  # the indices of the dirs to score
for i in "${!dirs[@]}"; do
  dir=${dirs[i]}
  [ -f "${dir}/.done.decode" ] || { echo "$0: ${dir} is not separated yet (run the decoding stage)" >&2; exit 1; }
  if [ -f "${dir}/scores.tsv" ] && [ ! -f "${dir}/.done.score" ]; then
    log "${dir}/scores.tsv exists (made before scores recorded their decode), skipping it"; continue
  fi
  resumed=$([ -f "${dir}/.started.score" ] && echo true || echo false)  # a killed scoring, of the decode as it is?
  provenance "${i}"
  stale=(--remove "${dir}/scores.tsv")  # with the job parts, if the check finds them stale
  for part in "${dir}"/split*; do stale+=(--remove "${part}"); done
  state=$(python -m avvae.bin.stage_done check "${dir}" --force "${force}" "${stale[@]}" "${provenance[@]}")
  if [ "${state}" = "done" ] && [ -f "${dir}/scores.tsv" ]; then log "${dir}/scores.tsv exists, skipping it"; continue; fi
  # job parts are results of this scoring only when it resumes a killed one (whose decode the check compared):
  # those an earlier scoring left are removed
  [ "${resumed}" = true ] || rm -rf "${dir}"/split*
  todo+=("${i}")
done
[ "${#todo[@]}" -gt 0 ] || exit 0
num_mix=$(wc -l < "${data}/wav.scp")
[ "${nj}" -le "${num_mix}" ] || nj=${num_mix}
threads="env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"
start=$SECONDS
# shellcheck disable=SC2086
${cmd} JOB=1:${nj} "${log_dir}/score.JOB.log" \
  ${threads} python -m avvae.bin.score --nj "${nj}" --job JOB "${score_words[@]}" "${data}" "${dirs[@]}"
python -m avvae.bin.score --nj "${nj}" --merge "${score_words[@]}" "${data}" "${dirs[@]}"
for i in "${todo[@]}"; do
  provenance "${i}"
  python -m avvae.bin.stage_done write "${dirs[i]}" "${provenance[@]}"
done
log "scored ${#todo[@]} decode dir(s) of ${data} in $((SECONDS - start)) s: <decode-dir>/scores.tsv"
