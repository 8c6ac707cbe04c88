#!/bin/sh
# hpc-sandbox placement golden-0000 (driver charliecloud), written by SlurmScheduler
set -e
mkdir -p '/shared/hpcsb/golden-0000/alloc/data'
: > '/shared/hpcsb/golden-0000/started'
exec env -i 'PATH=/host/bin:/host/sbin' 'USER=alice' 'LANG=C.UTF-8' 'ch-run' '--env-no-expand' '--unset-env=*' '--set-env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' '--set-env=HOME=/tmp' '--set-env=LANG=C.UTF-8' '--set-env=HF_TOKEN=hf_123' '--set-env=MODE=golden' '--set-env=SELF_URL=http://0.0.0.0:0' '--set-env=HPC_SANDBOX_TOKEN=t0ken' '-t' '-b' '/shared/hpcsb/golden-0000/alloc/data:/data' '-c' '/data' '/images/sandbox.sqfs' '--' 'node' '<bundle>' '--host' '0.0.0.0' '--port' '0' '--slots' '2' '--data-dir' '/data' '--isolation' 'auto'
