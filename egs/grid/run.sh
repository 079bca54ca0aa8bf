#!/usr/bin/env bash
# grid: the GRID audio-visual corpus (Cooke et al. 2006): 34 speakers x 1000 six-word commands, 25 fps video.
# Where the release is: --db_root /path, and the noise: --noise_root /path (read here; every other option goes to
# steps/avvae.sh), or GRID=/path and GRID_NOISE=/path in db.sh (copy db.sh.example). Only stage 1
# (local/data.sh) reads them.
set -euo pipefail
cd "$(dirname "$0")"

args=()
while [ $# -gt 0 ]; do
  case $1 in
    --db_root|--noise_root)
      [ $# -ge 2 ] || { echo "$0: $1 needs a folder" >&2; exit 1; }
      if [ "$1" = --db_root ]; then export GRID=$2; else export GRID_NOISE=$2; fi
      shift 2 ;;
    --help|-h)
      echo "$0 [--db_root <GRID root> (default: GRID in db.sh)] [--noise_root <noise folder> (default: GRID_NOISE" \
        "in db.sh)] [options of steps/avvae.sh below]" >&2
      args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done

./steps/avvae.sh \
  --train_set train_si --dev_set dev_si --sd_set train_sd --test_set test \
  --noise_train noise_train --noise_test noise_test \
  --feats_config conf/feats.yaml --mix_config conf/mix.yaml --unseen_mix_config "" \
  "${args[@]}"
