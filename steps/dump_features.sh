#!/usr/bin/env bash
# Dump a data dir to <dump_dir>/feats.h5 (STFT, power, lips at the STFT frame rate), in --nj jobs.
# Resumable: a finished dump (its .done marker) is skipped; a killed job resumes from its partial file. The marker
# records the feats config and the data dir's tables: a dump made (or begun) from others is refused, or redone with
# --force true.
set -euo pipefail
. "$(dirname "$0")/../utils/log.sh"

# Options (--name value):
nj=4              # number of parallel jobs
cmd=run.pl        # job launcher (run.pl, slurm.pl ...), see cmd.sh
feats_config=conf/feats.yaml   # STFT and lips settings
no_lips=false     # true for noise sets (no lips.scp)
force=false       # true: redo a dump made (or begun) with another config or data dir instead of refusing it

help_message="Usage: $0 [options] <data-dir> <dump-dir>
e.g.: $0 --nj 4 data/train_si dump/train_si
Options:
  --nj <n>               # number of jobs (default: ${nj})
  --cmd <launcher>       # job launcher (default: ${cmd})
  --feats-config <yaml>  # feature config (default: ${feats_config})
  --no-lips <bool>       # the set has no lips.scp, e.g. noise (default: ${no_lips})
  --force <bool>         # redo a stale dump (other config or data dir) instead of refusing it (default: ${force})"

log "$0 $*"
. "$(dirname "$0")/../utils/parse_options.sh"
if [ $# -ne 2 ]; then echo "${help_message}" >&2; exit 1; fi
data=$1
dump=$2

# the inputs' presence is checked only when there is work to do (stage_done check): a finished stage stays
# done when they are deleted
provenance=(--what "the dump" --input "${feats_config}" --data-dir "${data}" --option "no_lips=${no_lips}"
  --output feats.h5)
state=$(python -m avvae.bin.stage_done check "${dump}" --force "${force}" "${provenance[@]}")
if [ "${state}" = "done" ] && [ -f "${dump}/feats.h5" ]; then
  log "${dump}/feats.h5 is complete, skipping"; exit 0
fi
no_lips_flag=$([ "${no_lips}" = true ] && echo --no-lips || true)
python -m avvae.bin.validate_data_dir ${no_lips_flag:+"${no_lips_flag}"} "${data}"

num_utts=$(wc -l < "${data}/wav.scp")
[ "${nj}" -le "${num_utts}" ] || nj=${num_utts}
mkdir -p "${dump}/log"
start=$SECONDS
${cmd} "JOB=1:${nj}" "${dump}/log/dump.JOB.log" \
  python -m avvae.bin.dump_features --config "${feats_config}" --nj "${nj}" --job JOB "${data}" "${dump}"
python -m avvae.bin.merge_features --nj "${nj}" --expected "${num_utts}" "${dump}"
cp "${feats_config}" "${dump}/feats.yaml"
python -m avvae.bin.stage_done write "${dump}" "${provenance[@]}"
rm -r "${dump}/split${nj}"
log "dumped ${num_utts} utterances of ${data} to ${dump}/feats.h5 in $((SECONDS - start)) s"
