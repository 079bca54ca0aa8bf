#!/usr/bin/env bash
# grid: the GRID audio-visual corpus (Cooke et al. 2006): 34 speakers x 1000 six-word commands, 25 fps video.
# Where the release is: --db_root /path, and the noise: --noise_root /path (or GRID=/path and GRID_NOISE=/path in
# db.sh, copy db.sh.example); or speaker by speaker, --speaker_dir s1=/path/to/s1/videos (repeated), for talkers
# whose videos are in folders of their own. The protocol: --conf_dir conf (the release's speaker split, default)
# or conf/real (two talkers, s1 and s4, each split into train/dev/test; noise made from their speech), whose
# recipe.conf, if any, holds its options of steps/avvae.sh. Every other option goes to steps/avvae.sh. Only stage 1
# (local/data.sh) reads the videos.
set -euo pipefail
cd "$(dirname "$0")"
. ./utils/split_opts.sh

conf_dir=conf
local_data_opts=""
speaker_dirs=()
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --db_root|--noise_root|--conf_dir|--speaker_dir|--local_data_opts)
      [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 1; }
      case $1 in
        --db_root) export GRID=$2 ;;
        --noise_root) export GRID_NOISE=$2 ;;
        --conf_dir) conf_dir=$2 ;;
        --speaker_dir) speaker_dirs+=("$2") ;;
        --local_data_opts) local_data_opts=$2 ;;
      esac
      shift 2 ;;
    --help|-h)
      echo "$0 [--db_root <GRID root> (default: GRID in db.sh)] [--noise_root <noise folder> (default: GRID_NOISE" \
        "in db.sh)] [--speaker_dir <spk>=<folder of its videos> ...] [--conf_dir conf | conf/real]" \
        "[options of steps/avvae.sh below]" >&2
      args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -d "${conf_dir}" ] || { echo "$0: --conf_dir ${conf_dir} is not a folder" >&2; exit 1; }

if [ ${#speaker_dirs[@]} -gt 0 ]; then
  # A release root of links, one per speaker, so that {spk}/{utt}.mpg finds each speaker's own folder.
  export GRID=${PWD}/corpus/release
  mkdir -p "${GRID}"
  for entry in "${speaker_dirs[@]}"; do
    spk=${entry%%=*} folder=${entry#*=}
    if [ "${spk}" = "${entry}" ] || [ -z "${spk}" ]; then
      echo "$0: --speaker_dir ${entry}: expected <speaker>=<folder>, e.g. s1=/data/grid/s1" >&2; exit 1
    fi
    [ -d "${folder}" ] || { echo "$0: --speaker_dir ${entry}: ${folder} is not a folder" >&2; exit 1; }
    ln -sfn "$(cd "${folder}" && pwd)" "${GRID}/${spk}"
  done
fi

# A protocol's own options of steps/avvae.sh (e.g. which models), before the command line's.
protocol_options=()
[ ! -f "${conf_dir}/recipe.conf" ] || protocol_options=(--config "${conf_dir}/recipe.conf")

./steps/avvae.sh "${protocol_options[@]}" \
  --train_set train_si --dev_set dev_si --sd_set train_sd --test_set test \
  --noise_train noise_train --noise_test noise_test \
  --local_data_opts "--corpus_config $(quote_word "${conf_dir}/corpus.yaml") ${local_data_opts}" \
  --train_conf_dir "${conf_dir}" \
  --feats_config "${conf_dir}/feats.yaml" --mix_config "${conf_dir}/mix.yaml" --unseen_mix_config "" \
  --mcem_config "${conf_dir}/mcem.yaml" --nmf_config "${conf_dir}/nmf.yaml" \
  "${args[@]}"
