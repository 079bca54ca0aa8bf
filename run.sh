#!/usr/bin/env bash
# Runs the default recipe (egs/mini_av) with the given options, e.g. ./run.sh --stage 3 --stop_stage 3.
set -euo pipefail
exec "$(dirname "$0")/egs/mini_av/run.sh" "$@"
