#!/usr/bin/env bash
# mini_av: the embedded audio-visual corpus, generated locally (espeak-ng + MBROLA speech, rendered lips).
# Corpus size: ./run.sh --local_data_opts "--size tiny" for a quick run; default otherwise.
# The CVAE (conf/train_cvae.yaml) is left out of the default table to keep the recipe within its time budget on
# 2 cores: add it with --si_models "avae avvae cvae" --sd_models "avae avvae cvae".
set -euo pipefail
cd "$(dirname "$0")"

./steps/avvae.sh \
  --train_set train_si --dev_set dev_si --sd_set train_sd --test_set test \
  --noise_train noise_train --noise_test noise_test \
  --feats_config conf/feats.yaml --mix_config conf/mix.yaml \
  --mcem_config conf/mcem.yaml --sd_mcem_config conf/mcem_sd.yaml \
  --si_models "avae avvae" --sd_models "avae avvae" \
  "$@"
