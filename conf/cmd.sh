# How jobs are launched, for every recipe: egs/<corpus>/cmd.sh links here (a recipe that needs its own replaces its
# link with a file). Recipes source it from their own folder, so conf/ below is egs/<corpus>/conf/.
# "local" runs jobs on this machine with utils/run.pl; "slurm" submits them with utils/slurm.pl, whose site settings
# (partition, account, ...) go in the recipe's conf/slurm.conf (copy conf/slurm.conf.example).
# Choose here, or export AVVAE_CMD_BACKEND=slurm before running.
cmd_backend=${AVVAE_CMD_BACKEND:-local}

case "${cmd_backend}" in
  local)
    train_cmd="run.pl"
    decode_cmd="run.pl"
    cuda_cmd="run.pl --gpu 1"
    ;;
  slurm)
    train_cmd="slurm.pl --config conf/slurm.conf"
    decode_cmd="slurm.pl --config conf/slurm.conf"
    cuda_cmd="slurm.pl --config conf/slurm.conf --gpu 1"
    ;;
  *) echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (local or slurm)" >&2; return 1 ;;
esac
export train_cmd decode_cmd cuda_cmd
