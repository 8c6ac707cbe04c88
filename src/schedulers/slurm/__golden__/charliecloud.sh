#!/bin/sh
# hpc-sandbox placement golden-0000 (driver charliecloud), written by SlurmScheduler
set -e
listening() { grep -q "^ *[0-9]*: [0-9A-Fa-f]*:$(printf %04X "$1") [0-9A-Fa-f]*:[0-9A-Fa-f]* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
tries=0
while :; do
  HPC_SANDBOX_PORT=$((10000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 22768))
  listening "$HPC_SANDBOX_PORT" || break
  tries=$((tries + 1))
  [ "$tries" -lt 100 ] || { echo "hpc-sandbox: no free port found in 100 tries" >&2; exit 1; }
done
mkdir -p '/shared/hpcsb/golden-0000/alloc/data'
: > '/shared/hpcsb/golden-0000/started'
exec env -i 'PATH=/host/bin:/host/sbin' 'USER=alice' 'LANG=C.UTF-8' 'ch-run' '--env-no-expand' '--unset-env=*' '--set-env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' '--set-env=HOME=/tmp' '--set-env=LANG=C.UTF-8' '--set-env=HF_TOKEN=hf_123' '--set-env=MODE=golden' '--set-env=SELF_URL=http://0.0.0.0:'"$HPC_SANDBOX_PORT" '--set-env=HPC_SANDBOX_TOKEN=t0ken' '-t' '-b' '/shared/hpcsb/golden-0000/alloc/data:/data' '-c' '/data' '/images/sandbox.sqfs' '--' 'node' '<bundle>' '--host' '0.0.0.0' '--port' "$HPC_SANDBOX_PORT" '--slots' '2' '--data-dir' '/data' '--isolation' 'auto' '--pass-env' 'MODE' '--pass-env' 'SELF_URL' '--pass-env' 'HF_TOKEN' '--pass-env' 'NOT_SET_ON_HOST'
