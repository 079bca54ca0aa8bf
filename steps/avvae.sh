#!/usr/bin/env bash
# The shared recipe: every corpus's run.sh sets its sets and configs and hands over to this script.
# Stages (run a range with --stage N --stop_stage M; each stage skips what is already complete):
#   1. corpus data preparation (the corpus's local/data.sh) into Kaldi-style data dirs
#   2. test mixtures (two speakers + noise), with a manifest that rebuilds them
#   3. feature dump to HDF5 (STFT, power spectrogram, lips at the STFT frame rate)
#   4. speaker-independent (SI) training of the VAEs: exp/<model>_si (and the supervised baseline: exp/supervised)
#   5. speaker-dependent (SD) training for each test speaker: exp/<model>_sd/<speaker>
#   6. NMF dictionaries of the baseline: exp/nmf_sd (per speaker), exp/nmf_si
#   7. separation of the test mixtures (nj jobs): exp/<system>/decode_<set>/wav
#   8. scoring: exp/<system>/decode_<set>/scores.tsv (all systems of a set in one pass)
#   9. RESULTS.md and results.png from the score files
# With --tag <name>, what stages 4-9 train, decode and score is a variant that sits beside the others: its folders
# are exp/<system>_<name> (exp/avvae_si_<name>, exp/nmf_sd_<name>, exp/supervised_<name>, ...), its rows in
# RESULTS.md are labelled [<name>], and its RESULTS.md and results.png go to exp/results_<name>/. The reference
# rows (mixture, silence, oracle) depend on no model: every variant shares their untagged folders.
set -euo pipefail
. "$(dirname "$0")/../utils/log.sh"
. "$(dirname "$0")/../utils/split_opts.sh"

# Options (--name value):
stage=1                 # first stage to run
stop_stage=10000        # last stage to run
nj=4                    # parallel jobs for data prep, dumping and decoding
train_set=train_si      # speaker-independent training set
dev_set=dev_si          # development set (early stopping)
sd_set=train_sd         # held-out utterances of the test speakers (speaker-dependent training)
test_set="test"         # test speakers' test utterances, mixed in stage 2
noise_train=noise_train # noise used for training mixtures
noise_test=noise_test   # noise used for test mixtures
feats_config=conf/feats.yaml   # STFT and lips settings
mix_config=conf/mix.yaml       # test mixtures: speakers, SNRs, SIRs, noise types
unseen_mix_config=conf/mix_unseen.yaml  # test mixtures in a noise and SNR no training saw ("": none)
local_data_opts=""      # options passed to the corpus's local/data.sh (quote paths with spaces)
train_conf_dir=conf    # where the training configs are: <dir>/train_<model>.yaml, <dir>/train_supervised.yaml
si_models="avae avvae cvae"    # VAEs trained SI (train_<model>.yaml)
supervised=true         # also train and test the supervised AV baseline (train_supervised.yaml)
sd_models="avae avvae cvae"    # VAEs trained SD for each test speaker
mcem_config=conf/mcem.yaml     # MCEM separation settings
sd_mcem_config=""              # MCEM settings of the SD systems ("": mcem_config)
nmf_config=conf/nmf.yaml       # NMF baseline settings
oracle_latent_models=avvae  # VAEs whose oracle-latent reference rows are computed ("": none)
# Each system is scored in the speaker order its decode recorded: the best permutation (marked † in RESULTS.md) where
# it cannot tell the speakers apart (the same dictionary or audio-only model for two speakers of a mixture, nothing
# to say which estimate is whose), else the fixed one. These systems are scored in their best order whatever it says:
permutation_invariant=""
ngpu=0                  # training: 0 CPU, 1 GPU, > 1 DDP over GPUs (torchrun)
title=""                # RESULTS.md title (default: the corpus folder's name, and the tag)
tag=""                  # variant name of the systems stages 4-9 make: exp/<system>_<tag> ("": exp/<system>)
force=false             # true: redo stale outputs (made from other configs or inputs) instead of refusing them

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
  --unseen_mix_config <yaml>  # (default: ${unseen_mix_config})
  --local_data_opts <str>  # options for local/data.sh (default: '${local_data_opts}')
  --train_conf_dir <dir>   # folder of the training configs (default: ${train_conf_dir})
  --si_models <list>       # (default: '${si_models}')
  --sd_models <list>       # (default: '${sd_models}')
  --supervised <bool>      # (default: ${supervised})
  --oracle_latent_models <list>  # (default: '${oracle_latent_models}')
  --permutation_invariant <list>  # always scored in the best speaker order (default: '${permutation_invariant}')
  --mcem_config <yaml>     # (default: ${mcem_config})
  --sd_mcem_config <yaml>  # for the SD systems (default: '${sd_mcem_config}', the same as --mcem_config)
  --nmf_config <yaml>      # (default: ${nmf_config})
  --ngpu <n>               # (default: ${ngpu})
  --title <str>            # (default: the corpus folder's name, and the tag)
  --tag <name>             # variant: exp/<system>_<name>, e.g. exp/avvae_si_<name> (default: none)
  --force <bool>           # redo stale outputs of stages 2-8 instead of refusing them (default: ${force})"

log "$0 $*"
. ./utils/parse_options.sh
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 1; }
# a tag ends folder names after an underscore: without one of its own, the name still says where the tag begins
if [[ ! "${tag}" =~ ^[A-Za-z0-9.+-]*$ ]]; then
  echo "$0: --tag '${tag}': only letters, digits, '.', '+' and '-'" >&2; exit 1
fi
suffix=${tag:+_${tag}}  # of the folders of the systems this run trains and decodes
. ./path.sh
# shellcheck source=/dev/null  # the recipe's own cmd.sh, in the folder it runs from
. ./cmd.sh
: "${train_cmd:?cmd.sh sets no train_cmd}" "${decode_cmd:?cmd.sh sets no decode_cmd}" "${cuda_cmd:?cmd.sh sets no cuda_cmd}"
. ./utils/stage_times.sh  # each stage's wall and CPU time to exp/stage_times.tsv, and TIMING.md from it at exit
start=$SECONDS
test_sets="${test_set}_mix"
[ -z "${unseen_mix_config}" ] || test_sets="${test_sets} ${test_set}_unseen_mix"
train_launcher=$([ "${ngpu}" -gt 0 ] && echo "${cuda_cmd}" || echo "${train_cmd}")

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
  log "Stage 1: data preparation (local/data.sh ${local_data_opts})"
  local_data_words=()
  split_opts local_data_words --local_data_opts "${local_data_opts}"
  local/data.sh --nj "${nj}" "${local_data_words[@]}"
  for set in "${train_set}" "${dev_set}" "${sd_set}" "${test_set}"; do
    python -m avvae.bin.validate_data_dir "data/${set}"
  done
  for set in "${noise_train}" "${noise_test}"; do
    python -m avvae.bin.validate_data_dir --no-lips "data/${set}"
  done
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
  log "Stage 2: test mixtures data/${test_set}_mix (and data/${test_set}_unseen_mix)"
  steps/make_mixtures.sh --force "${force}" --mix-config "${mix_config}" \
    "data/${test_set}" "data/${noise_test}" "data/${test_set}_mix"
  if [ -n "${unseen_mix_config}" ]; then
    steps/make_mixtures.sh --force "${force}" --mix-config "${unseen_mix_config}" \
      "data/${test_set}" "data/${noise_test}" "data/${test_set}_unseen_mix"
  fi
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
  log "Stage 3: feature dump to dump/<set>/feats.h5"
  for set in "${train_set}" "${dev_set}" "${sd_set}" "${test_set}" ${test_sets}; do
    steps/dump_features.sh --force "${force}" --nj "${nj}" --cmd "${decode_cmd}" --feats-config "${feats_config}" \
      "data/${set}" "dump/${set}"
  done
  for set in "${noise_train}" "${noise_test}"; do
    steps/dump_features.sh --force "${force}" --nj "${nj}" --cmd "${decode_cmd}" --feats-config "${feats_config}" \
      --no-lips true "data/${set}" "dump/${set}"
  done
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
  log "Stage 4: SI training of ${si_models}${tag:+ (tag ${tag})}"
  for model in ${si_models}; do
    steps/train.sh --force "${force}" --cmd "${train_launcher}" --ngpu "${ngpu}" \
      --train-opts "--dev dump/${dev_set}/feats.h5" \
      "${train_conf_dir}/train_${model}.yaml" "dump/${train_set}/feats.h5" "dump/${noise_train}/feats.h5" \
      "exp/${model}_si${suffix}"
  done
  if [ "${supervised}" = true ]; then
    steps/train.sh --force "${force}" --cmd "${train_launcher}" --ngpu "${ngpu}" --module avvae.bin.train_supervised \
      --train-opts "--dev dump/${dev_set}/feats.h5" \
      "${train_conf_dir}/train_supervised.yaml" "dump/${train_set}/feats.h5" "dump/${noise_train}/feats.h5" \
      "exp/supervised${suffix}"
  fi
fi

speakers=$([ -f "data/${sd_set}/spk2utt" ] && cut -d' ' -f1 "data/${sd_set}/spk2utt" | tr '\n' ' ' || true)
if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
  log "Stage 5: SD training of ${sd_models} for ${speakers}${tag:+ (tag ${tag})}"
  for model in ${sd_models}; do
    for spk in ${speakers}; do
      steps/train.sh --force "${force}" --cmd "${train_launcher}" --ngpu "${ngpu}" \
        --train-opts "--speaker ${spk} --interferers dump/${train_set}/feats.h5 \
--init exp/${model}_si${suffix}/model.pt" \
        "${train_conf_dir}/train_${model}.yaml" "dump/${sd_set}/feats.h5" "dump/${noise_train}/feats.h5" \
        "exp/${model}_sd${suffix}/${spk}"
    done
  done
fi

if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
  log "Stage 6: NMF dictionaries${tag:+ (tag ${tag})}"
  for protocol in sd si; do
    dir=exp/nmf_${protocol}${suffix}
    feats=$([ "${protocol}" = sd ] && echo "dump/${sd_set}/feats.h5" || echo "dump/${train_set}/feats.h5")
    provenance=(--what "the NMF dictionaries" --input "${nmf_config}" --input "${feats}" --output dictionaries.npz)
    state=$(python -m avvae.bin.stage_done check "${dir}" --force "${force}" "${provenance[@]}")
    [ "${state}" != "done" ] || { log "${dir} is complete, skipping"; continue; }
    si_flag=$([ "${protocol}" = si ] && echo --speaker-independent || true)
    ${train_cmd} "${dir}/log/train_nmf.log" \
      python -m avvae.bin.train_nmf --config "${nmf_config}" ${si_flag:+"${si_flag}"} "${feats}" "${dir}"
    python -m avvae.bin.stage_done write "${dir}" "${provenance[@]}"
  done
fi

# The rows of the results: exp/<system> (exp_dir), and the decoding options of each. mixture, silence (all-zero
# estimates) and oracle are references, not methods: what doing nothing, removing everything and the ideal mask score.
systems="mixture silence oracle nmf_sd nmf_si"
for model in ${si_models}; do systems="${systems} ${model}_si"; done
for model in ${sd_models}; do systems="${systems} ${model}_sd"; done
[ "${supervised}" != true ] || systems="${systems} supervised"
# Reference rows of the model alone: each speaker's decoder at the latent fitted to its clean source, then MCEM's
# M-step and Wiener filter (model error apart from MCEM's inference error).
for model in ${oracle_latent_models}; do
  [[ " ${si_models} " != *" ${model} "* ]] || systems="${systems} oracle_latent_${model}_si"
  [[ " ${sd_models} " != *" ${model} "* ]] || systems="${systems} oracle_latent_${model}_sd"
done
# exp_dir SYSTEM: its folder, exp/<system> with the tag (the references' without: every variant shares them)
exp_dir() {
  case $1 in
    mixture|silence|oracle) echo "exp/$1" ;;
    *) echo "exp/$1${suffix}" ;;
  esac
}
decode_options() {
  local config sd_config
  config=$(quote_word "${mcem_config}")  # one word of --decode-opts, a path with spaces too
  sd_config=$(quote_word "${sd_mcem_config:-${mcem_config}}")
  case $1 in
    mixture|silence|oracle) echo "--method $1" ;;
    nmf_*) echo "--method nmf --nmf-dir $(exp_dir "$1")" ;;
    supervised) echo "--method supervised --model-dir $(exp_dir "$1")" ;;
    oracle_latent_*_si) echo "--method oracle_latent --config ${config} --model-dir $(exp_dir "${1#oracle_latent_}")" ;;
    oracle_latent_*_sd) echo "--method oracle_latent --config ${sd_config} --model-dir $(exp_dir "${1#oracle_latent_}") \
--speaker-dependent" ;;
    *_si) echo "--method mcem --config ${config} --model-dir $(exp_dir "$1")" ;;
    *_sd) echo "--method mcem --config ${sd_config} --model-dir $(exp_dir "$1") --speaker-dependent" ;;
  esac
}

if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
  log "Stage 7: separation of ${test_sets} by ${systems}${tag:+ (tag ${tag})}"
  for system in ${systems}; do
    for set in ${test_sets}; do
      steps/decode.sh --force "${force}" --cmd "${decode_cmd}" --nj "${nj}" \
        --decode-opts "$(decode_options "${system}")" \
        "data/${set}" "dump/${set}/feats.h5" "$(exp_dir "${system}")/decode_${set}"
    done
  done
fi

if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ]; then
  log "Stage 8: scoring${permutation_invariant:+ (best speaker permutation for: ${permutation_invariant})}"
  for set in ${test_sets}; do
    dirs=()
    score_opts=""
    for system in ${systems}; do
      dirs+=("$(exp_dir "${system}")/decode_${set}")
      case " ${permutation_invariant} " in
        *" ${system} "*) score_opts="${score_opts} --permutation-invariant ${dirs[-1]}" ;;
      esac
    done
    # all systems of a set in one pass: each mixture's references and own scores are computed once
    steps/score.sh --force "${force}" --cmd "${decode_cmd}" --nj "${nj}" --score-opts "${score_opts}" \
      --log-dir "exp/score_${set}${suffix}/log" \
      "data/${set}" "${dirs[@]}"
  done
fi

if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ]; then
  results_dir=$([ -z "${tag}" ] && echo . || echo "exp/results_${tag}")
  log "Stage 9: ${results_dir}/RESULTS.md"
  # a person's notes on the (untagged) run
  notes_opts=$([ -z "${tag}" ] && [ -f RESULTS.notes.md ] && echo "--notes RESULTS.notes.md" || true)
  folders=()  # exp/<folder> of each system
  for system in ${systems}; do folders+=("$(basename "$(exp_dir "${system}")")"); done
  # shellcheck disable=SC2086
  python -m avvae.bin.make_results --title "${title:-$(basename "$(pwd)")${tag:+ [${tag}]}}" --test-sets ${test_sets} \
    --systems "${folders[@]}" --out-dir "${results_dir}" ${notes_opts}
  log "see ${results_dir}/RESULTS.md and results.png"
fi

log "Successfully finished in $((SECONDS - start)) s"
