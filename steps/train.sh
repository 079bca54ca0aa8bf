#!/usr/bin/env bash
# Train one model into an exp dir (a VAE, SI or SD with --speaker; or the supervised baseline with --module),
# resuming a killed run; skipped when complete. The done marker records the config, the feature files and the files
# named in --train-opts (dev feats, the SI model an SD model starts from): a model trained (or begun) from others is
# refused, or trained again with --force true.
set -euo pipefail
. "$(dirname "$0")/../utils/log.sh"
. "$(dirname "$0")/../utils/split_opts.sh"

# Options (--name value):
cmd=run.pl        # launcher (train_cmd or cuda_cmd from cmd.sh)
ngpu=0            # 0: CPU; 1: one GPU; > 1: DDP over that many GPUs with torchrun
module=avvae.bin.train  # the training entry point (avvae.bin.train_supervised for the supervised baseline)
train_opts=""     # options passed on to it (--speaker, --interferers, --init, --dev, ...); quote paths with spaces
force=false       # true: retrain a model made (or begun) from another config or inputs instead of refusing it

help_message="Usage: $0 [options] <config> <train-feats> <noise-feats> <exp-dir>
e.g.: $0 --train-opts '--dev dump/dev_si/feats.h5' conf/train_avvae.yaml dump/train_si/feats.h5 \\
        dump/noise_train/feats.h5 exp/avvae_si
Options:
  --cmd <launcher>      # (default: ${cmd})
  --ngpu <n>            # (default: ${ngpu})
  --module <name>       # (default: ${module})
  --train-opts <str>    # options for the entry point (default: '${train_opts}')
  --force <bool>        # retrain a stale model (other config or inputs; removes <exp-dir>) (default: ${force})"

log "$0 $*"
. "$(dirname "$0")/../utils/parse_options.sh"
if [ $# -ne 4 ]; then echo "${help_message}" >&2; exit 1; fi
config=$1
train=$2
noise=$3
exp=$4
train_words=()  # the words of train_opts
split_opts train_words --train-opts "${train_opts}"

# the inputs' presence is checked only when there is work to do (stage_done check): a finished stage stays
# done when they are deleted
provenance=(--what "the training" --input "${config}" --input "${train}" --input "${noise}"
  --opts="${train_opts}" --option "module=${module}" --output model.pt)
state=$(python -m avvae.bin.stage_done check "${exp}" --force "${force}" "${provenance[@]}")
if [ "${state}" = "done" ]; then log "${exp} is complete, skipping"; exit 0; fi
if [ "${ngpu}" -gt 1 ]; then
  launcher="torchrun --standalone --nproc_per_node ${ngpu} -m ${module} --device cuda"
elif [ "${ngpu}" -eq 1 ]; then
  launcher="python -m ${module} --device cuda"
else
  launcher="python -m ${module} --device cpu"
fi
mkdir -p "${exp}/log"
start=$SECONDS
# shellcheck disable=SC2086
${cmd} "${exp}/log/train.log" ${launcher} --config "${config}" --train "${train}" --noise "${noise}" --resume \
  "${train_words[@]}" "${exp}"
python -m avvae.bin.stage_done write "${exp}" "${provenance[@]}"
log "trained ${exp} in $((SECONDS - start)) s (loss curves: ${exp}/loss.png)"
