# log MESSAGE: prints the time and the calling script:line before the message, to stderr; then passes the message to
# log_hook where a script defines one (utils/stage_times.sh times the stages from their banners).
log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
  if declare -F log_hook > /dev/null; then log_hook "$*"; fi
}
