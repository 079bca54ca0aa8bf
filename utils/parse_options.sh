# Kaldi-style option parsing, sourced by a script after it declares its options with defaults:
#   --foo-bar VALUE sets the declared variable foo_bar; an undeclared option is an error;
#   a variable whose default is true/false only takes true/false; --config FILE is read first, so the command
#   line wins; --help prints $help_message. Positional arguments are left in "$@".

__show_help() { printf '%s\n' "${help_message:-No help for $0}" >&2; }

# A config file (bash assignments) is sourced before the other options.
for ((__i = 1; __i <= $#; __i++)); do
  if [ "${!__i}" = "--config" ]; then
    __j=$((__i + 1))
    __config_file="${!__j:-}"
    [ -f "$__config_file" ] || { echo "$0: --config: no such file '$__config_file'" >&2; exit 1; }
    # shellcheck disable=SC1090
    . "$__config_file"
  fi
done

while true; do
  [ $# -eq 0 ] && break
  case "$1" in
    --help|-h) __show_help; exit 0 ;;
    --config) shift 2 ;;
    --*=*) echo "$0: write '--name value', not '$1'" >&2; exit 1 ;;
    --*)
      __name=$(echo "${1#--}" | tr '-' '_')
      if ! declare -p "$__name" >/dev/null 2>&1; then
        echo "$0: unknown option $1 (see --help)" >&2; exit 1
      fi
      if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
      __old="${!__name}"
      if [ "$__old" = true ] || [ "$__old" = false ]; then
        case "$2" in true|false) ;; *) echo "$0: option $1 takes true or false, got '$2'" >&2; exit 1 ;; esac
      fi
      printf -v "$__name" '%s' "$2"
      shift 2
      ;;
    *) break ;;
  esac
done
unset __i __j __name __old __config_file
true
