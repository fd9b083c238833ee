# nix-instantiate --eval --strict --json nix/tests/render.nix
# The vigil.toml the module's defaults render, and what the units it
# defines run, for the CI check (contrib/check-deploy.sh).
let
  stub = import ./stub.nix;
  on = stub.eval { enable = true; watch.enable = true; };
  off = stub.eval { };
  # Every [watch] key, a sink of each type, a rule with a remediation.
  full = stub.eval {
    enable = true;
    watch = {
      enable = true; settle = "50ms"; maxSettle = "1s"; scanInterval = "30m"; fullScanInterval = "12h";
      outbox = "/var/lib/vigil/events.outbox"; outboxMax = 5000; listen = "127.0.0.1:9847";
      ipAddressAllow = [ "192.0.2.10/32" ]; readWritePaths = [ "/srv/quarantine" ];
    };
    sinks = [
      { type = "file"; path = "/var/log/vigil/events.json"; max_size = "100MiB"; keep = 5; }
      { type = "webhook"; url = "https://siem.example/in"; min_severity = "alert"; retries = 3; timeout = "10s"; }
      { type = "syslog"; network = "udp"; address = "192.0.2.10:514"; facility = "local0"; }
      { type = "syslog"; }
      { type = "nats"; url = "nats://192.0.2.10:4222"; }
      { type = "exec"; command = [ "/usr/local/sbin/page-oncall" "--team" "infra" ]; timeout = "30s"; paths = [ "/etc/**" ]; }
    ];
    rules = [ {
      name = "ssh"; paths = [ "/etc/ssh/**" ]; attributes = [ "all" ];
      remediation = "exec"; remediation_command = [ "/usr/local/sbin/quarantine" "--" ]; remediation_timeout = "20s";
    } ];
  };
  # [posture] with every option.
  posture = stub.eval {
    enable = true;
    posture = {
      enable = true; profile = "workstation"; interval = "5m"; extraSysctls = [ "kernel.io_uring_disabled" ];
      mounts = [ "/" "/srv" ]; units = [ "/etc/systemd/system/app.service" ]; disable = [ "nft" ]; maxExposure = 6.5; lynis = true;
    };
  };
  # [nix] with every option.
  nixOpts = stub.eval { enable = true; nix = { enable = true; interval = "1h"; }; };
  # remediation = "restore": refused by a vigil without a restorer.
  restore = stub.eval { enable = true; rules = [ { paths = [ "/usr/bin/**" ]; attributes = [ "all" ]; remediation = "restore"; } ]; };
  # A host in a fleet that also runs a witness.
  fleet = stub.eval {
    enable = true; watch.enable = true;
    fleet = {
      url = [ "nats://192.0.2.20:4222" ]; host = "hv1"; profile = "hypervisor"; heartbeatInterval = "30s";
      witnesses = [ "witness1+713d8de1+AdvU/MvGhtdrT4Ei9LPuWD2ikJZM04VHCgIx6JR1qpkd" ]; quorum = 1;
      ipAddressAllow = [ "192.0.2.20/32" ]; serve.enable = true;
    };
  };
  # The witness unit as contrib/systemd has it (loopback only).
  serve = stub.eval { enable = true; fleet = { url = [ "nats://127.0.0.1:4222" ]; serve.enable = true; }; };
in
{
  config = on.result.environment.etc."vigil/vigil.toml".text;
  checkExec = on.result.systemd.services.vigil-check.serviceConfig.ExecStart;
  watchExec = on.result.systemd.services.vigil-watch.serviceConfig.ExecStart;
  watchNetwork = on.result.systemd.services.vigil-watch.serviceConfig.PrivateNetwork;
  sealPath = on.result.systemd.paths.vigil-seal.pathConfig.PathExists;
  disabled = off.result;
  fullConfig = full.result.environment.etc."vigil/vigil.toml".text;
  fullWatch = full.result.systemd.services.vigil-watch.serviceConfig;
  restoreConfig = restore.result.environment.etc."vigil/vigil.toml".text;
  postureConfig = posture.result.environment.etc."vigil/vigil.toml".text;
  nixConfig = nixOpts.result.environment.etc."vigil/vigil.toml".text;
  fleetConfig = fleet.result.environment.etc."vigil/vigil.toml".text;
  fleetCheck = fleet.result.systemd.services.vigil-check.serviceConfig;
  fleetWatch = fleet.result.systemd.services.vigil-watch.serviceConfig;
  fleetServe = fleet.result.systemd.services.vigil-fleet.serviceConfig;
  # The [Service] settings, compared with contrib/systemd's units.
  units = {
    "vigil-check.service" = on.result.systemd.services.vigil-check.serviceConfig;
    "vigil-watch.service" = on.result.systemd.services.vigil-watch.serviceConfig;
    "vigil-fleet.service" = serve.result.systemd.services.vigil-fleet.serviceConfig;
  };
}
