# Stage times for steps/avvae.sh (source it after path.sh, in the recipe folder). Each "Stage N: ..." banner that
# log prints (utils/log.sh calls log_hook) ends the previous stage's record and starts the next; the EXIT trap ends
# the last, with its exit status. One line per stage run is appended to exp/stage_times.tsv:
#   stage, name, wall_s, cpu_s (user + system of this shell and the jobs it waited for, from bash's `times`), date
#   of the start, status ("ok" or "failed (exit N)")
# and TIMING.md is regenerated from it (python -m avvae.bin.make_timing) when the script exits.
stage_times_file=exp/stage_times.tsv
_stage_number=""
_stage_name=""
_stage_start=0
_stage_cpu=0
_stage_date=""

# stage_times_now: sets _now_wall (seconds, to the ms) and _now_cpu (CPU seconds so far of this shell and the
# children it waited for). `times` must run in this shell: in a pipe or $() it would count a fresh subshell's.
stage_times_now() {
  times > "${stage_times_file}.cpu"
  read -r _now_wall _now_cpu < <(awk -v wall="$(date +%s.%N)" '{ for (i = 1; i <= NF; i++) { split($i, t, "m");
    sub("s", "", t[2]); cpu += t[1] * 60 + t[2] } } END { printf "%.3f %.2f\n", wall, cpu }' "${stage_times_file}.cpu")
  rm -f "${stage_times_file}.cpu"
}

# stage_times_end STATUS: append the running stage's line, if a stage is running.
stage_times_end() {
  [ -n "${_stage_number}" ] || return 0
  stage_times_now
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${_stage_number}" "${_stage_name}" \
    "$(awk -v a="${_now_wall}" -v b="${_stage_start}" 'BEGIN { printf "%.1f", a - b }')" \
    "$(awk -v a="${_now_cpu}" -v b="${_stage_cpu}" 'BEGIN { printf "%.1f", a - b }')" "${_stage_date}" "$1" \
    >> "${stage_times_file}"
  _stage_number=""
}

# log_hook MESSAGE: on a stage banner, end the running stage and start timing the new one.
log_hook() {
  [[ $1 =~ ^Stage\ ([0-9]+):\ (.*)$ ]] || return 0
  stage_times_end ok
  _stage_number=${BASH_REMATCH[1]}
  _stage_name=${BASH_REMATCH[2]//$'\t'/ }
  _stage_date=$(date '+%Y-%m-%dT%H:%M:%S')
  stage_times_now
  _stage_start=${_now_wall}
  _stage_cpu=${_now_cpu}
}

stage_times_exit() {
  local status=$?
  stage_times_end "$([ "${status}" -eq 0 ] && echo ok || echo "failed (exit ${status})")"
  if [ -f "${stage_times_file}" ]; then
    python -m avvae.bin.make_timing "${stage_times_file}" --out TIMING.md \
      || echo "could not write TIMING.md from ${stage_times_file}" >&2
  fi
  return "${status}"
}

mkdir -p "$(dirname "${stage_times_file}")"
trap stage_times_exit EXIT
