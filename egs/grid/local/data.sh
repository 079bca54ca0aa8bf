#!/usr/bin/env bash
# GRID data preparation, in two stages:
#   1. lips and audio: from each video (sN/<utt>.mpg), its mouth per frame from facial landmarks (or the fixed box
#      of conf/crops.yaml), 67x67 grayscale, and its own audio track at 16 kHz, in --nj jobs; then a picture of a
#      few speakers' crops, data/local/crops.png, to look at
#   2. words from the utterance ids, noise from the noise folder, and the data dirs
#      data/{train_si,dev_si,train_sd,test,noise_train,noise_test}
# The release's root: GRID, the noise folder: GRID_NOISE, from the environment (run.sh --db_root / --noise_root
# set them) or else from db.sh.
set -euo pipefail
. ./utils/log.sh

# Options (--name value):
stage=1                   # first stage of this script
stop_stage=2              # last stage of this script
nj=4                      # parallel jobs (lips and audio)
corpus_config=conf/corpus.yaml   # the release's layout, the mouth crop, the speakers and their split
crops=conf/crops.yaml     # fixed mouth box per speaker (mouth: box, and videos without a face found)
corpus_dir=corpus         # where the lips and the 16 kHz audio go

help_message="Usage: $0 [--stage N] [--stop_stage N] [--nj N] [--corpus_config conf/corpus.yaml]
  [--crops conf/crops.yaml] [--corpus_dir DIR]
The GRID root comes from GRID and the noise folder from GRID_NOISE (run.sh --db_root / --noise_root, or db.sh)."
. ./utils/parse_options.sh
. ./path.sh
# shellcheck source=/dev/null  # the recipe's own cmd.sh
. ./cmd.sh
: "${decode_cmd:?cmd.sh sets no decode_cmd}"

grid=${GRID:-}
noise=${GRID_NOISE:-}
# shellcheck source=/dev/null  # optional, the site's corpus paths
if [ -f db.sh ]; then . ./db.sh; fi
GRID=${grid:-${GRID:-}}
GRID_NOISE=${noise:-${GRID_NOISE:-}}
if [ -z "${GRID}" ]; then
  echo "$0: no GRID root: pass --db_root /path to run.sh, or write GRID=/path in $(pwd)/db.sh" >&2; exit 1
fi
if [ ! -d "${GRID}" ]; then
  problem=$([ -e "${GRID}" ] && echo "is a file, not a folder" || echo "does not exist")
  echo "$0: GRID root ${GRID} ${problem}" >&2; exit 1
fi

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
  if [ -f "${corpus_dir}/lips/.done" ]; then
    log "lips are complete (${corpus_dir}/lips/.done), skipping"
  else
    log "lips and audio: mouth crops and audio tracks of the videos of ${GRID} to ${corpus_dir}/{lips,wav}, ${nj} jobs"
    mkdir -p "${corpus_dir}/lips/log"
    ${decode_cmd} JOB=1:"${nj}" "${corpus_dir}/lips/log/extract.JOB.log" \
      python -m avvae.bin.extract_grid_lips --config "${corpus_config}" --crops "${crops}" --nj "${nj}" --job JOB \
        "${GRID}" "${corpus_dir}"
    python -m avvae.bin.extract_grid_lips --config "${corpus_config}" --crops "${crops}" \
      --picture data/local/crops.png "${GRID}" "${corpus_dir}"
    log "look at data/local/crops.png: each row is a speaker's video, its mouth box drawn, beside the crop"
    cp "${corpus_config}" "${crops}" "${corpus_dir}/lips/"
    date > "${corpus_dir}/lips/.done"
  fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
  noise_opts=()  # none: the corpus config's noise: generated makes it, or prepare_grid names what is missing
  if [ -n "${GRID_NOISE}" ]; then
    if [ ! -d "${GRID_NOISE}" ]; then
      problem=$([ -e "${GRID_NOISE}" ] && echo "is a file, not a folder" || echo "does not exist")
      echo "$0: noise folder ${GRID_NOISE} ${problem}" >&2; exit 1
    fi
    noise_opts=(--noise-root "${GRID_NOISE}")
  fi
  if [ -f data/.done.prepare ]; then
    log "data dirs are complete (data/.done.prepare), skipping; delete data/ to prepare them again"
  else
    mkdir -p "${corpus_dir}/log"
    python -m avvae.bin.prepare_grid --config "${corpus_config}" "${noise_opts[@]}" \
      "${GRID}" "${corpus_dir}" data 2> >(tee "${corpus_dir}/log/prepare.log" >&2)
    date > data/.done.prepare
  fi
fi
