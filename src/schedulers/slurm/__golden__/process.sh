#!/bin/sh
# hpc-sandbox placement golden-0000 (driver process), written by SlurmScheduler
set -e
mkdir -p '/shared/hpcsb/golden-0000/alloc/data'
: > '/shared/hpcsb/golden-0000/started'
exec env -i 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'HOME=/shared/hpcsb/golden-0000/alloc/data' 'LANG=C.UTF-8' 'HF_TOKEN=hf_123' 'MODE=golden' 'SELF_URL=http://0.0.0.0:0' 'HPC_SANDBOX_TOKEN=t0ken' '<node>' '<bundle>' '--host' '0.0.0.0' '--port' '0' '--slots' '2' '--data-dir' '/shared/hpcsb/golden-0000/alloc/data' '--isolation' 'auto'
