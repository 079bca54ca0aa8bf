# shellcheck shell=bash
# split_opts NAME OPTION VALUE: the words of VALUE, the options string of OPTION (e.g. --train-opts), into the array
# NAME, split as a shell splits a command line (a path with spaces is one word when quoted; quotes and backslashes
# are kept; nothing is expanded) by the rule of the stage's provenance record (avvae.fileio.provenance.option_words),
# so that the jobs get the very files that the record names. An unbalanced quote is an error naming OPTION.
split_opts() {
  local quoted
  quoted=$(python -c 'import shlex, sys
from avvae.fileio.provenance import option_words
try:
    print(shlex.join(option_words(sys.argv[2], sys.argv[1])))
except ValueError as error:
    sys.exit(f"{error}")' "$2" "$3") || return 1
  eval "$1=(${quoted})"  # shlex.join quotes every word for the shell: nothing in it runs
}

# quote_word WORD: WORD single-quoted, for an options string that split_opts splits back into WORD
quote_word() {
  local quote="'" escaped="'\\''"
  printf "'%s'" "${1//${quote}/${escaped}}"
}
