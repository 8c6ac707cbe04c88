#!/usr/bin/env bash
# Configures and starts a one-node Slurm cluster on this machine (tests, CI, demos): munged,
# slurmctld and slurmd, partition `debug` (default, OverSubscribe=FORCE:4), no accounting, no
# cgroups. Idempotent: running daemons with the same configuration are left alone. Needs root and
# the Debian packages slurm-wlm and munge. Exits non-zero, with the daemons' logs, when the node
# does not become usable.
#
# Environment: SLURM_PARTITION (debug), SLURM_READY_TIMEOUT (seconds, 30),
#              SLURM_STATE_DIR (/var/lib/hpc-sandbox-slurm), SLURM_CONF_FILE (/etc/slurm/slurm.conf)
set -euo pipefail

PARTITION="${SLURM_PARTITION:-debug}"
READY_TIMEOUT="${SLURM_READY_TIMEOUT:-30}"
STATE_DIR="${SLURM_STATE_DIR:-/var/lib/hpc-sandbox-slurm}"
CONF="${SLURM_CONF_FILE:-/etc/slurm/slurm.conf}"
LOG_DIR="$STATE_DIR/log"
MUNGE_KEY=/etc/munge/munge.key

fail() {
  echo "start-one-node: $*" >&2
  for log in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/munge/munged.log; do
    if [[ -s "$log" ]]; then
      echo "---- last lines of $log ----" >&2
      tail -n 25 "$log" >&2
    fi
  done
  exit 1
}

[[ "$(id -u)" == 0 ]] || fail "must run as root (it writes $CONF and starts system daemons)"
for tool in munged slurmctld slurmd sinfo scontrol; do
  command -v "$tool" >/dev/null || fail "$tool: not on PATH (apt-get install -y slurm-wlm munge)"
done

# --- munge: a key owned by munge, mode 0400, and a running munged -------------------------------
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [[ ! -s "$MUNGE_KEY" ]]; then
  echo "start-one-node: creating $MUNGE_KEY"
  if command -v mungekey >/dev/null; then mungekey --create --keyfile="$MUNGE_KEY" --force
  else dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none; fi
fi
chown munge:munge "$MUNGE_KEY"
chmod 0400 "$MUNGE_KEY"
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- munged || fail "munged did not start"
fi
for _ in $(seq 1 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n </dev/null | unmunge >/dev/null 2>&1 || fail "munge round trip (munge -n | unmunge) fails"

# --- slurm.conf: this host's real CPUs and memory ----------------------------------------------
NODE="$(hostname -s)"
# `slurmd -C` prints `NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105`; keep that line.
NODE_LINE="$(slurmd -C | grep '^NodeName=')" || fail "slurmd -C could not describe this node"
# Jobs see this host as their node: keep the address loopback so nothing listens outside.
NODE_LINE="${NODE_LINE/NodeName=$NODE/NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE}"
install -d -m 0755 "$STATE_DIR" "$STATE_DIR/ctld" "$STATE_DIR/d" "$LOG_DIR" "$(dirname "$CONF")"

NEW_CONF="$(cat <<CONF
# Written by hpc-sandbox scripts/slurm/start-one-node.sh: a one-node cluster for tests and CI.
ClusterName=hpcsb
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Start jobs as soon as they are submitted: no batching delay, frequent backfill passes.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=1
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
SlurmctldTimeout=30
SlurmdTimeout=60
$NODE_LINE State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE OverSubscribe=FORCE:4 State=UP
CONF
)"

CHANGED=0
if [[ ! -f "$CONF" ]] || [[ "$(cat "$CONF")" != "$NEW_CONF" ]]; then
  printf '%s\n' "$NEW_CONF" >"$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
  CHANGED=1
fi
# slurmd of 22.05 loads a cgroup plugin even with task/none and proctrack/linuxproc: autodetect.

running() { pgrep -x "$1" >/dev/null; }
stop_daemon() {
  local pid
  for pid in $(pgrep -x "$1" || true); do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do running "$1" || return 0; sleep 0.1; done
  for pid in $(pgrep -x "$1" || true); do kill -9 "$pid" 2>/dev/null || true; done
}
if [[ "$CHANGED" == 1 ]]; then
  echo "start-one-node: wrote $CONF"
  stop_daemon slurmd
  stop_daemon slurmctld
fi

if ! running slurmctld; then
  SLURM_CONF="$CONF" slurmctld -f "$CONF" || fail "slurmctld did not start"
fi
for _ in $(seq 1 50); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.2; done
scontrol ping 2>/dev/null | grep -q 'is UP' || fail "slurmctld does not answer (scontrol ping: $(scontrol ping 2>&1 | tr '\n' ' '))"
if ! running slurmd; then
  SLURM_CONF="$CONF" slurmd -f "$CONF" || fail "slurmd did not start"
fi

state=""
for _ in $(seq 1 $((READY_TIMEOUT * 5))); do
  state="$(sinfo -h -p "$PARTITION" -o %T 2>/dev/null | head -n1 || true)"
  case "$state" in
    idle|mix|mixed|alloc|allocated) break ;;
    down*|drain*|fail*) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.2
done
case "$state" in
  idle|mix|mixed|alloc|allocated) ;;
  *) fail "node $NODE of partition $PARTITION is '${state:-unknown}' after ${READY_TIMEOUT}s, not idle ($(scontrol show node "$NODE" 2>&1 | grep -o 'Reason=.*' || true))" ;;
esac
echo "start-one-node: partition $PARTITION on $NODE is $state ($(sinfo -V))"
