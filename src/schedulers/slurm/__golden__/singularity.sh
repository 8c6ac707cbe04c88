#!/bin/sh
# hpc-sandbox placement golden-0000 (driver singularity), written by SlurmScheduler
set -e
mkdir -p '/shared/hpcsb/golden-0000/alloc/data'
: > '/shared/hpcsb/golden-0000/started'
exec env -i 'PATH=/host/bin:/host/sbin' 'LANG=C.UTF-8' 'HOME=/home/alice' 'USER=alice' 'APPTAINERENV_LANG=C.UTF-8' 'APPTAINERENV_HF_TOKEN=hf_123' 'APPTAINERENV_MODE=golden' 'APPTAINERENV_SELF_URL=http://0.0.0.0:0' 'APPTAINERENV_HPC_SANDBOX_TOKEN=t0ken' 'apptainer' 'exec' '--containall' '--cleanenv' '--bind' '/shared/hpcsb/golden-0000/alloc/data:/data' '--pwd' '/data' '/images/sandbox.sif' 'node' '<bundle>' '--host' '0.0.0.0' '--port' '0' '--slots' '2' '--data-dir' '/data' '--isolation' 'auto'
