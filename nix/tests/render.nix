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
  # remediation = "restore": refused by a vigil without a restorer.
  restore = stub.eval { enable = true; rules = [ { paths = [ "/usr/bin/**" ]; attributes = [ "all" ]; remediation = "restore"; } ]; };
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
  # The [Service] settings, compared with contrib/systemd's units.
  units = {
    "vigil-check.service" = on.result.systemd.services.vigil-check.serviceConfig;
    "vigil-watch.service" = on.result.systemd.services.vigil-watch.serviceConfig;
  };
}
