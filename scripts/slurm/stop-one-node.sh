#!/usr/bin/env bash
# Stops the one-node Slurm cluster started by start-one-node.sh (slurmd, slurmctld; munged too with
# --munge). Running jobs are cancelled first. Idempotent.
set -euo pipefail
[[ "$(id -u)" == 0 ]] || { echo "stop-one-node: must run as root" >&2; exit 1; }
if command -v scancel >/dev/null && pgrep -x slurmctld >/dev/null; then
  scancel --user=root --full 2>/dev/null || true
fi
stop_daemon() {
  local pid
  for pid in $(pgrep -x "$1" || true); do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do pgrep -x "$1" >/dev/null || return 0; sleep 0.1; done
  for pid in $(pgrep -x "$1" || true); do kill -9 "$pid" 2>/dev/null || true; done
  if pgrep -x "$1" >/dev/null; then echo "stop-one-node: $1 is still running" >&2; return 1; fi
}
stop_daemon slurmd
stop_daemon slurmctld
[[ "${1:-}" == --munge ]] && stop_daemon munged
echo "stop-one-node: stopped"
