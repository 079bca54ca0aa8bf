# Activates the project's environment; see ../../path.sh.
. "$(dirname "${BASH_SOURCE[0]}")/../../path.sh"
