#!/usr/bin/env bash
# Separate every mixture of a mixture feats.h5 in nj jobs (steps/score.sh scores them).
# Each job skips the mixtures already written, so a rerun after a kill only does what is missing. The done marker
# records the mixtures (feats, wav.scp), the options and the files they name (config, the models of --model-dir, the
# NMF dictionaries): a decode made (or begun) from others, e.g. before the model was retrained, is refused, or redone
# with --force true. It also lists the wavs with their sizes: when some are deleted (or cut short), a rerun makes
# those mixtures again. The jobs record in <decode-dir>/speaker_order whether the estimates follow the mixtures'
# speaker order, which steps/score.sh reads; a decode finished before that record was kept gets it on a rerun
# (its mixtures are not separated again).
set -euo pipefail
. "$(dirname "$0")/../utils/log.sh"
. "$(dirname "$0")/../utils/split_opts.sh"

# Options (--name value):
cmd=run.pl          # launcher (decode_cmd from cmd.sh)
nj=4                # parallel jobs
decode_opts=""      # method options for avvae.bin.decode (--method ..., --model-dir ..., --config ...); quote paths
                    # with spaces
force=false         # true: redo a decode made (or begun) from other models or mixtures instead of refusing it

help_message="Usage: $0 [options] <mix-data-dir> <mix-feats> <decode-dir>
e.g.: $0 --nj 4 --decode-opts '--method mcem --model-dir exp/avvae_si --config conf/mcem.yaml' \\
        data/test_mix dump/test_mix/feats.h5 exp/avvae_si/decode_test_mix
Options:
  --cmd <launcher>      # (default: ${cmd})
  --nj <n>              # (default: ${nj})
  --decode-opts <str>   # (default: '${decode_opts}')
  --force <bool>        # redo a stale decode (other models, options, mixtures: removes it) (default: ${force})"

log "$0 $*"
. "$(dirname "$0")/../utils/parse_options.sh"
if [ $# -ne 3 ]; then echo "${help_message}" >&2; exit 1; fi
data=$1
feats=$2
dir=$3
decode_words=()  # the words of decode_opts
split_opts decode_words --decode-opts "${decode_opts}"

# the inputs' presence is checked only when there is work to do (stage_done check): a finished stage stays
# done when they are deleted
provenance=(--what "the decode" --name decode --input "${feats}" --input "${data}/wav.scp" --opts="${decode_opts}"
  --output wav)
state=$(python -m avvae.bin.stage_done check "${dir}" --force "${force}" "${provenance[@]}")
if [ "${state}" = "done" ] && [ -f "${dir}/speaker_order" ]; then log "${dir} is separated, skipping"; exit 0; fi
[ "${state}" != "done" ] || log "${dir} is separated but has no speaker_order record: its jobs write it"
num_mix=$(wc -l < "${data}/wav.scp")
[ "${nj}" -le "${num_mix}" ] || nj=${num_mix}
mkdir -p "${dir}/log"
# one BLAS/OpenMP thread per job: the jobs themselves use the cores
threads="env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"
start=$SECONDS
# shellcheck disable=SC2086
${cmd} JOB=1:${nj} "${dir}/log/decode.JOB.log" \
  ${threads} python -m avvae.bin.decode --nj "${nj}" --job JOB "${decode_words[@]}" "${feats}" "${dir}"
written=$(find "${dir}/wav" -name '*_noise.wav' | wc -l)
[ "${written}" -eq "${num_mix}" ] || { echo "$0: ${written} of ${num_mix} mixtures in ${dir}/wav" >&2; exit 1; }
python -m avvae.bin.stage_done write "${dir}" "${provenance[@]}"
log "separated ${num_mix} mixtures into ${dir} in $((SECONDS - start)) s"
