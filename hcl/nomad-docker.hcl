# Nomad agent config for sandbox servers under the docker task driver (the Atropos "nomad-dev.hcl"
# role). `hpc-sandbox agent` renders it with its own ports and data dir and runs
# `nomad agent -dev -config <rendered>`. -dev already enables raw_exec; this file adds docker:
plugin "docker" {
  config {
    # -dev does not really enable host-path volumes (it sets an option the plugin never reads).
    volumes {
      enabled = true
    }
    # bwrap inside the sandbox may need it (Atropos offered `privileged`).
    allow_privileged = true
    gc {
      # Locally built images (hpc-sandbox:local) are in no registry: never let Nomad delete them.
      image     = false
      container = true
    }
  }
}
