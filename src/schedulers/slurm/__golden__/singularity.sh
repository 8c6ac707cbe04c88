#!/bin/sh
# hpc-sandbox placement golden-0000 (driver singularity), written by SlurmScheduler
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
exec env -i 'PATH=/host/bin:/host/sbin' 'LANG=C.UTF-8' 'HOME=/home/alice' 'USER=alice' 'APPTAINERENV_LANG=C.UTF-8' 'APPTAINERENV_HF_TOKEN=hf_123' 'APPTAINERENV_MODE=golden' 'APPTAINERENV_SELF_URL=http://0.0.0.0:'"$HPC_SANDBOX_PORT" 'APPTAINERENV_HPC_SANDBOX_TOKEN=t0ken' 'apptainer' 'exec' '--containall' '--cleanenv' '--bind' '/shared/hpcsb/golden-0000/alloc/data:/data' '--pwd' '/data' '/images/sandbox.sif' 'node' '<bundle>' '--host' '0.0.0.0' '--port' "$HPC_SANDBOX_PORT" '--slots' '2' '--data-dir' '/data' '--isolation' 'auto' '--pass-env' 'MODE' '--pass-env' 'SELF_URL' '--pass-env' 'HF_TOKEN' '--pass-env' 'NOT_SET_ON_HOST'
