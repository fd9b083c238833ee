# NixOS module for vigil, the file integrity monitor.
#
#   imports = [ ./nix/module.nix ];
#   services.vigil.enable = true;
#
# Renders /etc/vigil/vigil.toml from the options below (their defaults are
# vigil's embedded default configuration: CI checks that they render a file
# `vigil config check` accepts, with the same digest, database and keep),
# runs `vigil check` from a timer in a hardened unit, optionally the
# real-time watch, and seals the baseline when the host moves to its
# hardened phase (the phase marker appears).
{ config, lib, pkgs, ... }:

let
  inherit (lib) mkOption mkEnableOption mkIf types;
  cfg = config.services.vigil;

  # TOML for the shapes vigil.toml has: scalars, lists of scalars, tables
  # of those, and arrays of tables. JSON strings are TOML basic strings.
  scalar = v:
    if builtins.isBool v then (if v then "true" else "false")
    else if builtins.isInt v then toString v
    else if builtins.isList v then "[" + lib.concatStringsSep ", " (map scalar v) + "]"
    else builtins.toJSON v;
  isTable = v: builtins.isAttrs v;
  isTableArray = v: builtins.isList v && v != [ ] && builtins.all builtins.isAttrs v;
  keyValues = attrs: lib.concatStrings (map (k: "${k} = ${scalar attrs.${k}}\n")
    (builtins.filter (k: !(isTable attrs.${k}) && !(isTableArray attrs.${k}) && attrs.${k} != null)
      (builtins.attrNames attrs)));
  toTOML = attrs:
    let names = builtins.attrNames attrs; in
    keyValues attrs
    + lib.concatStrings (map (k: "\n[${k}]\n" + keyValues attrs.${k}) (builtins.filter (k: isTable attrs.${k}) names))
    + lib.concatStrings (map (k: lib.concatStrings (map (t: "\n[[${k}]]\n" + keyValues t) attrs.${k}))
      (builtins.filter (k: isTableArray attrs.${k}) names));

  # Sinks that deliver over the network: webhook, nats, and syslog to a
  # udp or tcp address (unixgram, to /dev/log, is local).
  networkSinks = builtins.filter (s: s.type == "webhook" || s.type == "nats"
    || (s.type == "syslog" && builtins.elem (s.network or "unixgram") [ "udp" "tcp" ])) cfg.sinks;
  # A [fleet] section: the check and the watch reach its NATS servers.
  fleetOn = cfg.fleet.url != null;
  needsNetwork = networkSinks != [ ] || cfg.watch.listen != null || fleetOn;
  # The directories file sinks write to: writable in the watch unit.
  fileSinkDirs = map (s: dirOf s.path) (builtins.filter (s: s.type == "file" && s ? path) cfg.sinks);

  # [watch]: only the keys set, so that the defaults render no table.
  watchKeys = lib.filterAttrs (_: v: v != null) {
    settle = cfg.watch.settle;
    max_settle = cfg.watch.maxSettle;
    scan_interval = cfg.watch.scanInterval;
    full_scan_interval = cfg.watch.fullScanInterval;
    outbox = cfg.watch.outbox;
    outbox_max = cfg.watch.outboxMax;
    listen = cfg.watch.listen;
  };

  # [nix]: written only with a key set.
  nixKeys = lib.filterAttrs (_: v: v != null) { enabled = cfg.nix.enable; interval = cfg.nix.interval; };

  # [posture]: written only when enabled, with the keys set.
  postureKeys = lib.filterAttrs (_: v: v != null && v != [ ]) {
    enable = true;
    profile = cfg.posture.profile;
    interval = cfg.posture.interval;
    extra_sysctls = cfg.posture.extraSysctls;
    mounts = cfg.posture.mounts;
    units = cfg.posture.units;
    profile_file = if cfg.posture.profileFile == null then null else toString cfg.posture.profileFile;
    disable = cfg.posture.disable;
    max_exposure = cfg.posture.maxExposure;
    lynis = if cfg.posture.lynis then true else null;
  };

  # [fleet]: only the keys set; none without a url.
  fleetKeys = lib.filterAttrs (_: v: v != null && v != [ ]) {
    url = cfg.fleet.url;
    host = cfg.fleet.host;
    profile = cfg.fleet.profile;
    heartbeat_interval = cfg.fleet.heartbeatInterval;
    creds_file = cfg.fleet.credsFile;
    witnesses = cfg.fleet.witnesses;
    quorum = cfg.fleet.quorum;
  } // lib.optionalAttrs cfg.fleet.serve.tofu { tofu = true; };

  # What vigil.toml says. Keys for [watch], sinks, phase markers and the
  # pinned key are only written when set, so that the defaults render
  # exactly the embedded default configuration.
  rendered = {
    database = cfg.database;
    keep = cfg.keep;
    roots = cfg.roots;
    exclude = cfg.exclude;
    exclude_files = cfg.excludeFiles;
    cross_filesystems = cfg.crossFilesystems;
    max_hash_size = cfg.maxHashSize;
    scan = { hash_workers = cfg.hashWorkers; dir_workers = cfg.dirWorkers; reread_within = cfg.rereadWithin; };
    rule = map (r: lib.filterAttrs (_: v: v != null) r) cfg.rules;
  }
  // lib.optionalAttrs (watchKeys != { }) { watch = watchKeys; }
  // lib.optionalAttrs (cfg.sinks != [ ]) { sink = cfg.sinks; }
  // lib.optionalAttrs fleetOn { fleet = fleetKeys; }
  // lib.optionalAttrs (cfg.phase.hardenedMarker != defaultMarker) { phase = { hardened_markers = [ cfg.phase.hardenedMarker ]; }; }
  // lib.optionalAttrs (cfg.publicKeyFile != null) { trust = { pubkey = toString cfg.publicKeyFile; }; }
  // lib.optionalAttrs cfg.posture.enable { posture = postureKeys; }
  // lib.optionalAttrs (nixKeys != { }) { nix = nixKeys; }
  // cfg.settings;

  configText = "# Generated by the NixOS module services.vigil; edit the module's options.\n" + toTOML rendered;

  defaultMarker = "/etc/hypervisor/.phase2_hardened";
  vigil = "${cfg.package}/bin/vigil";
  globalArgs = "--config /etc/vigil/vigil.toml --db ${cfg.database}";

  # The same least-privilege settings as contrib/systemd (see there for why).
  hardening = {
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = "read-only";
    PrivateTmp = true;
    PrivateDevices = true;
    PrivateIPC = true;
    PrivateMounts = true;
    ProtectHostname = true;
    ProtectClock = true;
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectProc = "invisible";
    ProcSubset = "pid";
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    RemoveIPC = true;
    KeyringMode = "private";
    UMask = "0077";
    SystemCallArchitectures = "native";
    SystemCallFilter = [ "@system-service" "~@privileged @resources @mount @swap @reboot @raw-io @module @clock @cpu-emulation @debug @obsolete" ];
    SystemCallErrorNumber = "EPERM";
    DevicePolicy = "closed";
  };
  btrfsCaps = lib.optional cfg.btrfs "CAP_SYS_ADMIN";
  transition = pkgs.writeShellScriptBin "vigil-transition-phase" (builtins.readFile ../contrib/transition_phase.sh);
in
{
  options.services.vigil = {
    enable = mkEnableOption "vigil, the file integrity monitor";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      description = "The vigil package: by default built from this repository (nix/package.nix).";
    };

    database = mkOption {
      type = types.str;
      default = "/var/lib/vigil/vigil.db";
      description = "The bbolt database holding the baselines (outside every root).";
    };
    keep = mkOption {
      type = types.int;
      default = 5;
      description = "How many baselines to keep.";
    };
    roots = mkOption {
      type = types.listOf types.str;
      default = [
        "/etc" "/boot" "/efi"
        "/bin" "/sbin" "/lib" "/lib64" "/usr/bin" "/usr/sbin" "/usr/libexec" "/usr/local" "/usr/games"
        "/usr/lib/x86_64-linux-gnu" "/usr/lib/aarch64-linux-gnu" "/usr/lib64"
        "/usr/lib/modules" "/usr/lib/systemd" "/usr/lib/udev" "/usr/lib/modprobe.d" "/usr/lib/modules-load.d"
        "/usr/lib/sysctl.d" "/usr/lib/tmpfiles.d" "/usr/lib/sysusers.d" "/usr/lib/binfmt.d" "/usr/lib/environment.d"
        "/usr/lib/openssh" "/usr/lib/dbus-1.0" "/usr/lib/polkit-1" "/usr/share/polkit-1" "/usr/share/dbus-1"
        "/root/.ssh" "/var/spool/cron" "/var/spool/at"
        "/nix/var/nix/profiles" "/run/current-system" "/run/booted-system"
      ];
      description = "The trees to watch (vigil's default roots; missing ones are skipped).";
    };
    exclude = mkOption {
      type = types.listOf types.str;
      default = [
        "/etc/mtab" "/etc/adjtime" "/etc/fake-hwclock.data"
        "/etc/{passwd,shadow,group,gshadow,subuid,subgid}{.lock,+}" "/etc/ld.so.cache~"
      ];
      description = "Patterns of paths not to record (doublestar globs).";
    };
    excludeFiles = mkOption {
      type = types.listOf types.str;
      default = [ "/etc/**/.*.sw[a-p]" "/etc/**/.#*" ];
      description = "Like exclude, but for what is not a directory (editor swap and lock files), so that a directory so named hides nothing.";
    };
    rereadWithin = mkOption {
      type = types.int;
      default = 30;
      description = "Every file the stat cache trusts is reread at least once in this many checks (a keyed, rotating sample); 0 turns it off.";
    };
    crossFilesystems = mkOption {
      type = types.bool;
      default = true;
      description = "Descend into filesystems mounted below a root (the ESP at /boot/efi).";
    };
    maxHashSize = mkOption {
      type = types.either types.int types.str;
      default = "0";
      description = "Files larger than this are not hashed; \"0\" means no limit.";
    };
    hashWorkers = mkOption { type = types.int; default = 0; description = "Hashing goroutines; 0 lets vigil choose."; };
    dirWorkers = mkOption { type = types.int; default = 0; description = "Directory readers; 0 lets vigil choose."; };
    rules = mkOption {
      type = types.listOf (types.attrsOf types.anything);
      example = [ {
        name = "ssh configuration"; paths = [ "/etc/ssh/**" ]; attributes = [ "all" ];
        remediation = "exec"; remediation_command = [ "/run/current-system/sw/bin/vigil-quarantine" ]; remediation_timeout = "30s";
      } ];
      default = [
        {
          name = "churning bookkeeping";
          paths = [
            "/etc/.pwd.lock" "/etc/.updated" "/var/spool/cron/atjobs/.SEQ"
            "/{boot,efi,boot/efi}/loader/random-seed"
            "/root/.{bash,zsh,python,mysql,psql,sqlite,node_repl}_history" "/root/.lesshst" "/root/.viminfo"
          ];
          ignore = [ "content" "size" "mtime" "ctime" "inode" ];
        }
        { name = "NixOS system links"; paths = [ "/run/current-system" "/run/booted-system" ]; attributes = [ "target" ]; }
      ];
      description = ''
        [[rule]] tables, in order (the last matching rule wins), with vigil's
        keys: name, paths, ignore or attributes, and the watch's remediation
        ("alert", "exec" or "restore"), remediation_command and
        remediation_timeout. A remediation command runs inside the watch
        unit's sandbox: list what it writes in watch.readWritePaths.
      '';
    };
    settings = mkOption {
      type = types.attrsOf types.anything;
      default = { };
      description = "Further keys of vigil.toml, written over the ones the options above give.";
    };

    sinks = mkOption {
      type = types.listOf (types.attrsOf types.anything);
      default = [ ];
      example = [
        { type = "file"; path = "/var/log/vigil/events.json"; max_size = "100MiB"; keep = 5; }
        { type = "webhook"; url = "https://siem.example/ingest"; min_severity = "alert"; }
        { type = "syslog"; network = "udp"; address = "192.0.2.10:514"; }
      ];
      description = ''
        Where the watch delivers events ([[sink]] tables with vigil's keys:
        type stdout, file, webhook, syslog, nats or exec, min_severity,
        paths, and each type's own). A network sink (webhook, nats, syslog
        over udp or tcp) gives the watch unit the network, but only to the
        addresses in watch.ipAddressAllow (and localhost); a file sink's
        directory becomes writable to it. None: events go to stdout (the
        journal).
      '';
    };

    phase = {
      hardenedMarker = mkOption {
        type = types.str;
        default = defaultMarker;
        description = "The file whose existence means the hardened phase.";
      };
      sealOnHarden = mkOption {
        type = types.bool;
        default = true;
        description = "Run `vigil seal` when the hardened-phase marker appears.";
      };
    };

    posture = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Record the host's security posture (sysctls, modules, lockdown, LSMs,
          listening sockets, mount options, accounts, systemd exposure) with
          every baseline and compare it in every check and in the watch
          ([posture] in vigil.toml; see `vigil posture`).
        '';
      };
      profile = mkOption { type = types.enum [ "server" "workstation" ]; default = "server"; description = "posture.profile: the profile checks and severities come from."; };
      interval = mkOption { type = types.nullOr types.str; default = null; example = "15m"; description = "posture.interval: how often the watch compares the posture (null: 15m)."; };
      extraSysctls = mkOption { type = types.listOf types.str; default = [ ]; example = [ "kernel.io_uring_disabled" ]; description = "posture.extra_sysctls: recorded besides the default list."; };
      mounts = mkOption { type = types.listOf types.str; default = [ ]; description = "posture.mounts: mount points whose options are recorded ([]: /, /boot, /tmp, /var/tmp, /dev/shm, /home)."; };
      units = mkOption { type = types.listOf types.str; default = [ ]; example = [ "/etc/systemd/system/nginx.service" ]; description = "posture.units: unit files scored offline by systemd-analyze security ([]: every loaded service, online)."; };
      profileFile = mkOption { type = types.nullOr types.path; default = null; description = "posture.profile_file: checks that extend or replace the embedded profiles (vigil posture --profiles shows the format)."; };
      disable = mkOption { type = types.listOf types.str; default = [ ]; example = [ "nft" ]; description = "posture.disable: collectors not to run."; };
      lynis = mkOption { type = types.bool; default = false; description = "posture.lynis: run lynis (minutes) with every posture collection and record its hardening index."; };
      maxExposure = mkOption { type = types.nullOr types.float; default = null; example = 5.0; description = "posture.max_exposure: the highest accepted systemd exposure score (null: the profile's)."; };
    };

    keyFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "The signing key `vigil seal` uses (vigil.key); null: seal from the transition script only.";
    };
    publicKeyFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "The pinned verifier key (vigil.pub), written as trust.pubkey.";
    };

    nix.enable = mkOption {
      type = types.nullOr types.bool;
      default = null;
      description = "nix.enabled: verify the Nix store against the Nix database (`vigil nix check`); null: on where the database exists.";
    };

    nix.interval = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "1h";
      description = "nix.interval: how often the watch checks the Nix store (null: 15m); it also does at once when the system profile or /run/current-system moves.";
    };

    btrfs = mkOption {
      type = types.bool;
      default = false;
      description = "Give the units CAP_SYS_ADMIN for Btrfs tree search and snapshots.";
    };

    check = {
      enable = mkOption { type = types.bool; default = true; description = "Run `vigil check` from a timer."; };
      onCalendar = mkOption { type = types.str; default = "hourly"; description = "When (systemd.time(7))."; };
      randomizedDelaySec = mkOption { type = types.str; default = "10min"; description = "Spread over a fleet."; };
    };
    watch = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = "Run the real-time watch (`vigil watch`, Type=notify with a watchdog).";
      };
      settle = mkOption { type = types.nullOr types.str; default = null; example = "100ms"; description = "watch.settle: how long a path must be quiet before it is verified (null: vigil's 100ms)."; };
      maxSettle = mkOption { type = types.nullOr types.str; default = null; example = "2s"; description = "watch.max_settle: the bound for a path written continuously (null: 2s)."; };
      scanInterval = mkOption { type = types.nullOr types.str; default = null; example = "1h"; description = "watch.scan_interval: period of the whole check (null: 1h)."; };
      fullScanInterval = mkOption { type = types.nullOr types.str; default = null; example = "24h"; description = "watch.full_scan_interval: period of the full check rereading every file (null: 24h)."; };
      outbox = mkOption { type = types.nullOr types.str; default = null; description = "watch.outbox: the outbox file (null: the database's path + .outbox)."; };
      outboxMax = mkOption { type = types.nullOr types.int; default = null; example = 100000; description = "watch.outbox_max: events each sink's queue holds (null: 100000)."; };
      listen = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "127.0.0.1:9847";
        description = "watch.listen: host:port of /metrics, /healthz and /status; null: no listener. Use a loopback address; the unit then allows localhost.";
      };
      ipAddressAllow = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "192.0.2.10/32" ];
        description = "The collectors a network sink reaches (IPAddressAllow of the watch unit; localhost is always allowed once it has the network).";
      };
      readWritePaths = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Further paths the watch unit may write (a remediation command's targets); the database's and file sinks' directories are writable anyway.";
      };
    };

    fleet = {
      url = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
        example = [ "nats://192.0.2.20:4222" ];
        description = "fleet.url: the NATS servers of the fleet (README, Running a fleet); null: no fleet. Pairs with nixpkgs' services.nats (jetstream = true) on the witness machine.";
      };
      host = mkOption { type = types.nullOr types.str; default = null; description = "fleet.host (null: the host name)."; };
      profile = mkOption { type = types.nullOr types.str; default = null; description = "fleet.profile: a group of hosts meant to be alike."; };
      heartbeatInterval = mkOption { type = types.nullOr types.str; default = null; example = "60s"; description = "fleet.heartbeat_interval (null: 60s)."; };
      credsFile = mkOption { type = types.nullOr types.str; default = null; description = "fleet.creds_file: NATS user credentials."; };
      witnesses = mkOption { type = types.listOf types.str; default = [ ]; description = "fleet.witnesses: the witnesses' verifier keys (their vigil.pub lines)."; };
      quorum = mkOption { type = types.nullOr types.int; default = null; description = "fleet.quorum (null: 1 with witnesses)."; };
      ipAddressAllow = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "192.0.2.20/32" ];
        description = "The NATS servers' addresses (IPAddressAllow of the check and watch units, and of the witness unit beside localhost).";
      };
      serve = {
        enable = mkOption { type = types.bool; default = false; description = "Run a witness here (`vigil fleet serve`, vigil-fleet.service)."; };
        keyFile = mkOption { type = types.str; default = "/etc/vigil/witness.key"; description = "The witness's signer key (vigil keygen's vigil.key), handed over by LoadCredential."; };
        tofu = mkOption { type = types.bool; default = false; description = "fleet.tofu: enroll unknown hosts' keys on first use."; };
      };
    };

    configText = mkOption {
      type = types.str;
      readOnly = true;
      default = configText;
      description = "The rendered vigil.toml (read only).";
    };
  };

  config = mkIf cfg.enable {
    environment.etc."vigil/vigil.toml" = { text = configText; mode = "0600"; };
    # The witness reads its [fleet] section from here (vigil-fleet.service).
    environment.etc."vigil/fleet.toml" = mkIf (fleetOn && cfg.fleet.serve.enable) { text = configText; mode = "0600"; };
    environment.systemPackages = [ cfg.package transition ];

    users.users.vigil = { isSystemUser = true; group = "vigil"; description = "vigil file integrity monitor"; };
    users.groups.vigil = { };

    systemd.services.vigil-check = mkIf cfg.check.enable {
      description = "vigil file integrity check";
      documentation = [ "man:vigil(1)" ];
      after = [ "local-fs.target" ];
      serviceConfig = hardening // {
        Type = "oneshot";
        # The keyed sample's key and last check: the one thing a check
        # writes, in its own state directory.
        ExecStart = "${vigil} ${globalArgs} --quiet check --sample-state /var/lib/vigil-check/sample";
        User = "vigil";
        Group = "vigil";
        StateDirectory = "vigil-check";
        StateDirectoryMode = "0700";
        CapabilityBoundingSet = [ "CAP_DAC_READ_SEARCH" ] ++ btrfsCaps;
        AmbientCapabilities = [ "CAP_DAC_READ_SEARCH" ] ++ btrfsCaps;
        PrivateNetwork = !fleetOn;
        RestrictAddressFamilies = if fleetOn then [ "AF_UNIX" "AF_INET" "AF_INET6" ] else "none";
        IPAddressDeny = "any";
        Nice = 10;
        IOSchedulingClass = "idle";
        CPUSchedulingPolicy = "batch";
        TimeoutStartSec = "6h";
      } // lib.optionalAttrs fleetOn {
        IPAddressAllow = [ "localhost" ] ++ cfg.fleet.ipAddressAllow;
      };
    };
    systemd.timers.vigil-check = mkIf cfg.check.enable {
      description = "Periodic vigil file integrity check";
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnCalendar = cfg.check.onCalendar;
        RandomizedDelaySec = cfg.check.randomizedDelaySec;
        Persistent = true;
        AccuracySec = "1min";
      };
    };

    systemd.services.vigil-watch = mkIf cfg.watch.enable {
      description = "vigil real-time file integrity watch";
      documentation = [ "man:vigil(1)" ];
      after = [ "local-fs.target" ];
      wantedBy = [ "multi-user.target" ];
      startLimitIntervalSec = 600;
      startLimitBurst = 5;
      serviceConfig = hardening // {
        Type = "notify";
        NotifyAccess = "main";
        ExecStart = "${vigil} watch ${globalArgs}";
        WatchdogSec = "60s";
        TimeoutStartSec = "30min";
        Restart = "on-failure";
        RestartSec = "5s";
        RestartPreventExitStatus = "15 17 19 24";
        User = "root";
        CapabilityBoundingSet = [ "CAP_DAC_READ_SEARCH" "CAP_FOWNER" ] ++ btrfsCaps;
        SecureBits = "noroot-locked";
        ReadWritePaths = [ (dirOf cfg.database) ] ++ fileSinkDirs ++ cfg.watch.readWritePaths;
        StateDirectory = "vigil";
        StateDirectoryMode = "0700";
        PrivateNetwork = !needsNetwork;
        RestrictAddressFamilies = [ "AF_UNIX" ] ++ lib.optionals needsNetwork [ "AF_INET" "AF_INET6" ];
        # Denied always; with the network (a network sink, the listener)
        # only localhost and the collectors are allowed, as the
        # network-sink.conf drop-in does.
        IPAddressDeny = "any";
        Nice = 5;
        IOSchedulingClass = "best-effort";
        IOSchedulingPriority = 7;
      } // lib.optionalAttrs needsNetwork {
        IPAddressAllow = [ "localhost" ] ++ cfg.watch.ipAddressAllow ++ lib.optionals fleetOn cfg.fleet.ipAddressAllow;
      };
    };

    # The witness (contrib/systemd/vigil-fleet.service): a dynamic user
    # with no capabilities and no writable path; the configuration and the
    # key come in as credentials.
    systemd.services.vigil-fleet = mkIf (fleetOn && cfg.fleet.serve.enable) {
      description = "vigil fleet witness (verifies and cosigns the hosts' audit logs on NATS JetStream)";
      documentation = [ "man:vigil(1)" ];
      after = [ "network-online.target" "nats.service" ];
      wants = [ "network-online.target" ];
      wantedBy = [ "multi-user.target" ];
      startLimitIntervalSec = 600;
      startLimitBurst = 5;
      serviceConfig = hardening // {
        Type = "exec";
        LoadCredential = [ "fleet.toml:/etc/vigil/fleet.toml" "witness.key:${cfg.fleet.serve.keyFile}" ];
        ExecStart = "${vigil} fleet serve --config \${CREDENTIALS_DIRECTORY}/fleet.toml --key \${CREDENTIALS_DIRECTORY}/witness.key";
        Restart = "on-failure";
        RestartSec = "5s";
        RestartPreventExitStatus = "15 17 20 24";
        DynamicUser = true;
        CapabilityBoundingSet = "";
        AmbientCapabilities = "";
        ProtectHome = true;
        PrivateUsers = true;
        RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" ];
        IPAddressDeny = "any";
        IPAddressAllow = [ "localhost" ] ++ cfg.fleet.ipAddressAllow;
      };
    };

    # The hook into the transition to the hardened phase: when the marker
    # appears (transition_phase.sh harden writes it last), seal.
    systemd.paths.vigil-seal = mkIf cfg.phase.sealOnHarden {
      description = "Seal the vigil baseline when the host enters its hardened phase";
      wantedBy = [ "multi-user.target" ];
      pathConfig.PathExists = cfg.phase.hardenedMarker;
    };
    systemd.services.vigil-seal = mkIf cfg.phase.sealOnHarden {
      description = "Seal the vigil baseline (hardened phase)";
      serviceConfig = hardening // {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "${transition}/bin/vigil-transition-phase seal";
        Environment = [ "VIGIL=${vigil}" "VIGIL_CONFIG=/etc/vigil/vigil.toml" "VIGIL_DB=${cfg.database}"
          "VIGIL_MARKER=${cfg.phase.hardenedMarker}" ] ++ lib.optional (cfg.keyFile != null) "VIGIL_KEY=${cfg.keyFile}";
        User = "root";
        CapabilityBoundingSet = [ "CAP_DAC_READ_SEARCH" "CAP_FOWNER" ] ++ btrfsCaps;
        ReadWritePaths = [ (dirOf cfg.database) ];
        StateDirectory = "vigil";
        StateDirectoryMode = "0700";
        PrivateNetwork = true;
        RestrictAddressFamilies = "AF_UNIX";
      };
    };
  };
}
