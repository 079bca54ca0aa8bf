#!/usr/bin/env bash
# The shared recipe: every corpus's run.sh sets its sets and configs and hands over to this script.
# Stages (run a range with --stage N --stop_stage M; each stage skips what is already complete):
#   1. corpus data preparation (the corpus's local/data.sh) into Kaldi-style data dirs
#   2. test mixtures (two speakers + noise), with a manifest that rebuilds them
#   3. feature dump to HDF5 (STFT, power spectrogram, lips at the STFT frame rate)
set -euo pipefail
. "$(dirname "$0")/../utils/log.sh"

# Options (--name value):
stage=1                 # first stage to run
stop_stage=10000        # last stage to run
nj=4                    # parallel jobs for data prep, dumping and decoding
train_set=train_si      # speaker-independent training set
dev_set=dev_si          # development set (early stopping)
sd_set=train_sd         # held-out utterances of the test speakers (speaker-dependent training)
test_set=test           # test speakers' test utterances, mixed in stage 2
noise_train=noise_train # noise used for training mixtures
noise_test=noise_test   # noise used for test mixtures
feats_config=conf/feats.yaml   # STFT and lips settings
mix_config=conf/mix.yaml       # test mixtures: speakers, SNRs, SIRs, noise types
local_data_opts=""      # options passed to the corpus's local/data.sh

help_message="Usage: $0 [options]
Runs the avvae recipe of the current corpus folder (egs/<corpus>), stage by stage.
Options:
  --stage <n>              # first stage (default: ${stage})
  --stop_stage <n>         # last stage (default: ${stop_stage})
  --nj <n>                 # parallel jobs (default: ${nj})
  --train_set <name>       # SI training set (default: ${train_set})
  --dev_set <name>         # dev set (default: ${dev_set})
  --sd_set <name>          # SD training set (default: ${sd_set})
  --test_set <name>        # test set (default: ${test_set})
  --noise_train <name>     # training noise set (default: ${noise_train})
  --noise_test <name>      # test noise set (default: ${noise_test})
  --feats_config <yaml>    # (default: ${feats_config})
  --mix_config <yaml>      # (default: ${mix_config})
  --local_data_opts <str>  # options for local/data.sh (default: '${local_data_opts}')"

log "$0 $*"
. ./utils/parse_options.sh
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 1; }
. ./path.sh
. ./cmd.sh
start=$SECONDS

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
  log "Stage 1: data preparation (local/data.sh ${local_data_opts})"
  # shellcheck disable=SC2086
  local/data.sh --nj "${nj}" ${local_data_opts}
  for set in "${train_set}" "${dev_set}" "${sd_set}" "${test_set}"; do
    python -m avvae.bin.validate_data_dir "data/${set}"
  done
  for set in "${noise_train}" "${noise_test}"; do
    python -m avvae.bin.validate_data_dir --no-lips "data/${set}"
  done
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
  log "Stage 2: test mixtures data/${test_set}_mix"
  steps/make_mixtures.sh --mix-config "${mix_config}" \
    "data/${test_set}" "data/${noise_test}" "data/${test_set}_mix"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
  log "Stage 3: feature dump to dump/<set>/feats.h5"
  for set in "${train_set}" "${dev_set}" "${sd_set}" "${test_set}" "${test_set}_mix"; do
    steps/dump_features.sh --nj "${nj}" --cmd "${decode_cmd}" --feats-config "${feats_config}" \
      "data/${set}" "dump/${set}"
  done
  for set in "${noise_train}" "${noise_test}"; do
    steps/dump_features.sh --nj "${nj}" --cmd "${decode_cmd}" --feats-config "${feats_config}" --no-lips true \
      "data/${set}" "dump/${set}"
  done
fi

log "Successfully finished in $((SECONDS - start)) s"
