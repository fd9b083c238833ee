# nix-instantiate --eval --strict --json nix/tests/render.nix
# The vigil.toml the module's defaults render, and what the units it
# defines run, for the CI check (contrib/check-deploy.sh).
let
  stub = import ./stub.nix;
  on = stub.eval { enable = true; watch.enable = true; };
  off = stub.eval { };
in
{
  config = on.result.environment.etc."vigil/vigil.toml".text;
  checkExec = on.result.systemd.services.vigil-check.serviceConfig.ExecStart;
  watchExec = on.result.systemd.services.vigil-watch.serviceConfig.ExecStart;
  watchNetwork = on.result.systemd.services.vigil-watch.serviceConfig.PrivateNetwork;
  sealPath = on.result.systemd.paths.vigil-seal.pathConfig.PathExists;
  disabled = off.result;
  # The [Service] settings, compared with contrib/systemd's units.
  units = {
    "vigil-check.service" = on.result.systemd.services.vigil-check.serviceConfig;
    "vigil-watch.service" = on.result.systemd.services.vigil-watch.serviceConfig;
  };
}
