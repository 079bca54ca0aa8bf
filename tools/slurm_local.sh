#!/usr/bin/env bash
# A single-node Slurm on this machine (controller and compute node in one), for trying the recipes' cluster path
# (utils/slurm.pl, AVVAE_CMD_BACKEND=slurm) without a cluster, and for the tests of that path.
#   tools/slurm_local.sh [--gpus N]   start it, or say that it is already running
#   tools/slurm_local.sh --stop       cancel its jobs and stop it
#   tools/slurm_local.sh --status     say whether it is running (exit 0) or not (exit 3)
# Starting prints one line on stdout, `export SLURM_CONF=<dir>/slurm.conf`, so that `eval "$(tools/slurm_local.sh)"`
# points sbatch, squeue and sinfo at it; everything else goes to stderr.
# The node is this machine: its hostname, CPUs and memory (`slurmd -C`), one partition `local`. --gpus N declares N
# GPUs as generic resources (`--gres=gpu:N` jobs are accepted); the default is the number of /dev/nvidia<i>
# devices. On a machine without GPUs, --gpus 1 declares one that is not there: GPU jobs are then accepted and run
# on the CPU, which is enough to check a site config's GPU flags.
# Needs root (slurmd, and munged run as the munge user) and Debian's slurmctld, slurmd, slurm-client and munge
# (tools/bootstrap.sh installs them). Its own munged, key and socket, and ports other than Slurm's usual 6817/6818,
# leave any system munge or site Slurm alone. Exit status: 0 running, 1 failed to start (with the logs' tails),
# 2 cannot run here (packages or root missing), 3 (--status) not running.
# Environment:
#   AVVAE_SLURM_DIR   the folder holding its state: slurm.conf, gres.conf, munge key and socket, logs, spool, pid files
#                     (default /tmp/avvae-slurm)
#   AVVAE_SLURM_PORT  slurmctld's port; slurmd listens on the next one (default 6917)
set -euo pipefail

dir=${AVVAE_SLURM_DIR:-/tmp/avvae-slurm}
port=${AVVAE_SLURM_PORT:-6917}
packages="slurmctld slurmd slurm-client munge"
conf=${dir}/slurm.conf
export SLURM_CONF=${conf}
export PATH=${PATH}:/usr/sbin:/sbin  # where the daemons are, also for users whose PATH leaves it out

say() { echo "slurm_local: $*" >&2; }

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit "$1"
}

action=start
gpus=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stop) action=stop; shift ;;
    --status) action=status; shift ;;
    --gpus)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || { say "--gpus takes a whole number, got '${2:-}'"; exit 2; }
      gpus=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) say "unknown option '$1'"; usage 2 ;;
  esac
done

# Whether the daemon whose pid file is $1 runs, as the program $2 (a stale pid of another program does not count).
alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "${pid}" ] && [ "$(cat "/proc/${pid}/comm" 2>/dev/null)" = "$2" ]
}

running() {
  alive "${dir}/munge/munged.pid" munged && alive "${dir}/run/slurmctld.pid" slurmctld \
    && alive "${dir}/run/slurmd.pid" slurmd
}

stop_daemon() {  # pid file, program: TERM, then KILL after 10 s
  local pid
  alive "$1" "$2" || return 0
  pid=$(cat "$1")
  kill "${pid}" 2>/dev/null || true
  for _ in $(seq 100); do alive "$1" "$2" || return 0; sleep 0.1; done
  say "$2 (pid ${pid}) ignored SIGTERM for 10 s, killing it"
  kill -9 "${pid}" 2>/dev/null || true
}

stop() {
  if alive "${dir}/run/slurmctld.pid" slurmctld; then
    scancel --partition local 2>/dev/null || true
  fi
  stop_daemon "${dir}/run/slurmd.pid" slurmd
  stop_daemon "${dir}/run/slurmctld.pid" slurmctld
  stop_daemon "${dir}/munge/munged.pid" munged
}

if [ "${action}" = status ]; then
  if running; then say "running (SLURM_CONF=${conf})"; exit 0; fi
  say "not running"; exit 3
fi
if [ "${action}" = stop ]; then
  [ -d "${dir}/run" ] || { say "not running"; exit 0; }
  [ "$(id -u)" -eq 0 ] || { say "needs root to stop the daemons"; exit 2; }
  stop
  say "stopped"
  exit 0
fi

missing=()
for program in slurmctld slurmd sbatch munged; do
  command -v "${program}" >/dev/null || missing+=("${program}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "cannot start: ${missing[*]} not installed (Debian packages ${packages});" \
    "install them with tools/bootstrap.sh, or: apt-get install ${packages}"
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  say "cannot start: needs root (slurmd, and munged as the munge user), e.g. sudo $0"
  exit 2
fi
id munge >/dev/null 2>&1 || { say "cannot start: no munge user (reinstall the munge package)"; exit 2; }

if [ -z "${gpus}" ]; then
  gpus=$(find /dev -maxdepth 1 -name 'nvidia[0-9]*' | wc -l)
fi
host=$(hostname -s)
hardware=$(slurmd -C | head -n 1)  # NodeName=<host> CPUs=.. Boards=.. SocketsPerBoard=.. ... RealMemory=..
if [[ "${hardware}" != "NodeName=${host} "* ]]; then
  say "cannot read this machine's layout: slurmd -C printed '${hardware}'"
  exit 1
fi

# slurm.conf and gres.conf as they would be written now, to compare with a running cluster's.
write_conf() {
  local out=$1 gres="" i
  [ "${gpus}" -eq 0 ] || gres=" Gres=gpu:${gpus}"
  cat > "${out}/slurm.conf" <<END
# Written by tools/slurm_local.sh: a single-node cluster on ${host}.
ClusterName=avvae
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${port}
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${dir}/munge/munge.socket
StateSaveLocation=${dir}/spool/slurmctld
SlurmdSpoolDir=${dir}/spool/slurmd
SlurmctldPidFile=${dir}/run/slurmctld.pid
SlurmdPidFile=${dir}/run/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
# A job runs at its submitter's nice value, as run.pl's jobs do.
PropagatePrioProcess=1
# Short timers: sbatch --wait polls every 2 s while MinJobAge/2 is not above that, killed jobs go within a second.
MinJobAge=4
KillWait=1
GresTypes=gpu
${hardware} NodeAddr=127.0.0.1${gres} State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
END
  : > "${out}/gres.conf"
  for ((i = 0; i < gpus; i++)); do
    if [ -e "/dev/nvidia${i}" ]; then
      echo "NodeName=${host} Name=gpu File=/dev/nvidia${i}" >> "${out}/gres.conf"
    else  # a GPU that is not there: slurmd counts a GPU only with a device file, and /dev/null is one
      echo "NodeName=${host} Name=gpu File=/dev/null" >> "${out}/gres.conf"
    fi
  done
}

wanted=$(mktemp -d)
trap 'rm -rf "${wanted}"' EXIT
write_conf "${wanted}"
if running; then
  if cmp -s "${wanted}/slurm.conf" "${conf}" && cmp -s "${wanted}/gres.conf" "${dir}/gres.conf"; then
    say "already running (${conf})"
    echo "export SLURM_CONF=${conf}"
    exit 0
  fi
  say "already running with another configuration (${conf}):"
  diff "${conf}" "${wanted}/slurm.conf" >&2 || true
  diff "${dir}/gres.conf" "${wanted}/gres.conf" >&2 || true
  say "stop it first: $0 --stop"
  exit 1
fi

start=$(date +%s%3N)
stop  # whatever is left of an earlier start
mkdir -p "${dir}"/{run,log,spool/slurmctld,spool/slurmd,munge}
chmod 755 "${dir}" "${dir}/run" "${dir}/log"
cp "${wanted}/slurm.conf" "${wanted}/gres.conf" "${dir}/"

# munged refuses keys and folders that others can write; clients (any user) reach the socket through the folder.
chown munge:munge "${dir}/munge"
chmod 755 "${dir}/munge"
if [ ! -s "${dir}/munge/munge.key" ]; then
  (umask 077 && dd if=/dev/urandom of="${dir}/munge/munge.key" bs=1024 count=1 status=none)
  chown munge:munge "${dir}/munge/munge.key"
fi

tails() {
  local log
  for log in "${dir}"/log/*.log "${dir}/munge/munged.log"; do
    [ -f "${log}" ] || continue
    say "tail of ${log}:"
    tail -n 15 "${log}" >&2
  done
}
fail() { say "$*"; tails; stop; exit 1; }

runuser -u munge -- munged --socket="${dir}/munge/munge.socket" --key-file="${dir}/munge/munge.key" \
  --log-file="${dir}/munge/munged.log" --pid-file="${dir}/munge/munged.pid" --seed-file="${dir}/munge/munged.seed" \
  || fail "munged did not start"
slurmctld -c -f "${conf}" || fail "slurmctld did not start"
slurmd -f "${conf}" || fail "slurmd did not start"

# Ready when the node takes jobs.
state=""
for _ in $(seq 300); do
  state=$(sinfo --noheader --nodes "${host}" --format %t 2>/dev/null || true)
  [ "${state}" = idle ] && break
  sleep 0.1
done
[ "${state}" = idle ] || fail "the node ${host} is '${state:-unknown}', not idle, 30 s after starting"
elapsed=$(($(date +%s%3N) - start))
say "started in $((elapsed / 1000)).$((elapsed % 1000 / 100)) s: node ${host}" \
  "($(sinfo --noheader --format '%c CPUs, %m MB'), GPUs: ${gpus}), partition local, state in ${dir}"
echo "export SLURM_CONF=${conf}"
