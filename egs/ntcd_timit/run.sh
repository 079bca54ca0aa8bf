#!/usr/bin/env bash
# ntcd_timit: NTCD-TIMIT (Abdelaziz, Interspeech 2017), the corpus of the published AV-VAE results.
# Where the release is: --db_root /path (read here; every other option goes to steps/avvae.sh), or
# NTCD_TIMIT=/path in db.sh (copy db.sh.example). Only stage 1 (local/data.sh) reads the release itself.
set -euo pipefail
cd "$(dirname "$0")"

args=()
while [ $# -gt 0 ]; do
  case $1 in
    --db_root)
      [ $# -ge 2 ] || { echo "$0: --db_root needs the NTCD-TIMIT root folder" >&2; exit 1; }
      export NTCD_TIMIT=$2; shift 2 ;;
    --help|-h)
      echo "$0 [--db_root <NTCD-TIMIT root> (default: NTCD_TIMIT in db.sh)] [options of steps/avvae.sh below]" >&2
      args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done

./steps/avvae.sh \
  --train_set train_si --dev_set dev_si --sd_set train_sd --test_set test \
  --noise_train noise_train --noise_test noise_test \
  --feats_config conf/feats.yaml --mix_config conf/mix.yaml --unseen_mix_config "" \
  "${args[@]}"
