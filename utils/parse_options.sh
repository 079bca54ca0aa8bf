# Kaldi-style option parsing, sourced by a script after it declares its options with defaults:
#   --foo-bar VALUE sets the declared variable foo_bar; an undeclared option (or a name that is not a lower-case
#   option name, e.g. --PATH) is an error; a variable whose default is true/false only takes true/false, one whose
#   default is a whole number only takes whole numbers, and nj (the number of parallel jobs) only a positive one;
#   --config FILE (lines `name=value`, # comments) is read first under the same rules, so the command line wins;
#   --help prints $help_message. Positional arguments are left in "$@".

__show_help() { printf '%s\n' "${help_message:-No help for $0}" >&2; }

# __set NAME VALUE WHERE: set a declared option after checking its name and the type of its default.
__set() {
  if ! [[ "$1" =~ ^[a-z][a-z0-9_]*$ ]] || ! declare -p "$1" >/dev/null 2>&1; then
    echo "$0: unknown option $3 (see --help)" >&2; exit 1
  fi
  local old="${!1}"
  if [ "$old" = true ] || [ "$old" = false ]; then
    case "$2" in true|false) ;; *) echo "$0: option $3 takes true or false, got '$2'" >&2; exit 1 ;; esac
  elif [[ "$old" =~ ^-?[0-9]+$ ]] && ! [[ "$2" =~ ^-?[0-9]+$ ]]; then
    echo "$0: option $3 takes a whole number, got '$2'" >&2; exit 1
  fi
  if [ "$1" = nj ] && ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: option $3 takes a positive number of jobs, got '$2'" >&2; exit 1
  fi
  printf -v "$1" '%s' "$2"
}

# A config file is read before the other options.
for ((__i = 1; __i <= $#; __i++)); do
  if [ "${!__i}" = "--config" ]; then
    __j=$((__i + 1))
    __config_file="${!__j:-}"
    [ -f "$__config_file" ] || { echo "$0: --config: no such file '$__config_file'" >&2; exit 1; }
    __line_number=0
    while IFS= read -r __line || [ -n "$__line" ]; do
      __line_number=$((__line_number + 1))
      [[ "$__line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
      if ! [[ "$__line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
        echo "$0: $__config_file:$__line_number: expected 'name=value', got '$__line'" >&2; exit 1
      fi
      __name=${BASH_REMATCH[1]}
      __value=${BASH_REMATCH[2]}
      if [[ "$__value" =~ ^\"(.*)\"$ ]] || [[ "$__value" =~ ^\'(.*)\'$ ]]; then __value=${BASH_REMATCH[1]}; fi
      __set "$__name" "$__value" "$__name (in $__config_file:$__line_number)"
    done < "$__config_file"
  fi
done

while true; do
  [ $# -eq 0 ] && break
  case "$1" in
    --help|-h) __show_help; exit 0 ;;
    --config) shift 2 ;;
    --*=*) echo "$0: write '--name value', not '$1'" >&2; exit 1 ;;
    --*)
      if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
      __set "$(echo "${1#--}" | tr '-' '_')" "$2" "$1"
      shift 2
      ;;
    *) break ;;
  esac
done
unset __i __j __name __value __line __line_number __config_file
true
