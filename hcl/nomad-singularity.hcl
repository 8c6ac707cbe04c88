# Nomad agent config for sandbox servers started through raw_exec: Apptainer/Singularity,
# Charliecloud (ch-run) and plain processes. `hpc-sandbox agent` renders it with its own ports and
# data dir and runs `nomad agent -dev -config <rendered>`.
#
# A plugin block REPLACES the -dev default for raw_exec, so it must say `enabled = true`.
plugin "raw_exec" {
  config {
    enabled = true
  }
}
