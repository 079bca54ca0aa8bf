# Activates the project's environment (made by tools/bootstrap.sh); nothing else.
AVVAE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ ! -x "${AVVAE_ROOT}/.venv/bin/python" ]; then
  echo "path.sh: ${AVVAE_ROOT}/.venv is missing: run tools/bootstrap.sh first" >&2
  # shellcheck disable=SC2317  # exit only where path.sh is run rather than sourced
  return 1 2>/dev/null || exit 1
fi
export PATH="${AVVAE_ROOT}/.venv/bin:${AVVAE_ROOT}/utils:${PATH}"
export PYTHONUNBUFFERED=1 LC_ALL=C
