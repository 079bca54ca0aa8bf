#!/usr/bin/env bash
# NTCD-TIMIT data preparation: converts the release's lip ROIs to lips files, derives noise-only signals
# (noisy - clean) and writes the Kaldi-style data dirs data/{train_si,dev_si,train_sd,test,noise_train,noise_test}.
# The release's root: NTCD_TIMIT in the environment (run.sh --db_root sets it), else NTCD_TIMIT in db.sh.
set -euo pipefail
. ./utils/log.sh

# Options (--name value):
nj=4                      # parallel processes for the lips conversion
config=conf/corpus.yaml   # the release's layout, the speaker lists, the noise
corpus_dir=corpus         # where the converted lips and the derived noise go
speaker_split=            # lists | release (empty: speaker_split of the config; lists, the AV-VAE authors' split)

help_message="Usage: $0 [--nj N] [--config conf/corpus.yaml] [--corpus_dir DIR] [--speaker_split lists|release]
The NTCD-TIMIT root comes from NTCD_TIMIT (run.sh --db_root /path, or NTCD_TIMIT=/path in db.sh)."
. ./utils/parse_options.sh
. ./path.sh

# shellcheck source=/dev/null  # optional, the site's corpus paths
if [ -z "${NTCD_TIMIT:-}" ] && [ -f db.sh ]; then . ./db.sh; fi
if [ -z "${NTCD_TIMIT:-}" ]; then
  echo "$0: no NTCD-TIMIT root: pass --db_root /path to run.sh, or write NTCD_TIMIT=/path in $(pwd)/db.sh" >&2
  exit 1
fi
if [ ! -d "${NTCD_TIMIT}" ]; then
  problem=$([ -e "${NTCD_TIMIT}" ] && echo "is a file, not a folder" || echo "does not exist")
  echo "$0: NTCD-TIMIT root ${NTCD_TIMIT} ${problem}" >&2; exit 1
fi

if [ -f data/.done.prepare ]; then
  log "data dirs are complete (data/.done.prepare), skipping; delete data/ to prepare them again"
  exit 0
fi
mkdir -p "${corpus_dir}/log"
split_opts=()
[ -z "${speaker_split}" ] || split_opts=(--speaker_split "${speaker_split}")
python -m avvae.bin.prepare_ntcd_timit --config "${config}" --nj "${nj}" "${split_opts[@]}" \
  "${NTCD_TIMIT}" "${corpus_dir}" data \
  2> >(tee "${corpus_dir}/log/prepare.log" >&2)
date > data/.done.prepare
