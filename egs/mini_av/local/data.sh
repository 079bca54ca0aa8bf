#!/usr/bin/env bash
# mini_av data preparation: generate the corpus (deterministic from its config's seed), then write the
# Kaldi-style data dirs data/{train_si,dev_si,train_sd,test,noise_train,noise_test}.
set -euo pipefail
. ./utils/log.sh

# Options (--name value):
nj=4              # parallel synthesis processes
size=default      # corpus size: default (the recipe) or tiny (tests); picks conf/corpus[_tiny].yaml
corpus_dir=corpus # where the generated audio, lips and noise go

help_message="Usage: $0 [--nj N] [--size default|tiny] [--corpus_dir DIR]"
. ./utils/parse_options.sh
case "${size}" in
  default) corpus_config=conf/corpus.yaml ;;
  tiny) corpus_config=conf/corpus_tiny.yaml ;;
  *) echo "$0: --size must be default or tiny, got '${size}'" >&2; exit 1 ;;
esac

mkdir -p "${corpus_dir}/log"
python -m avvae.corpus.make_corpus --config "${corpus_config}" --nj "${nj}" "${corpus_dir}" \
  2> >(tee -a "${corpus_dir}/log/make_corpus.log" >&2)
if [ -f data/.done.prepare ] && [ data/.done.prepare -nt "${corpus_dir}/.done" ]; then
  log "data dirs are up to date with ${corpus_dir}, skipping"
else
  python -m avvae.corpus.prepare_data "${corpus_dir}" data
  date > data/.done.prepare
fi
