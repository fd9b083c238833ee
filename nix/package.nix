# vigil built from this repository: the default package of module.nix.
#
#   vigil = pkgs.callPackage ./nix/package.nix { };
#
# vendorHash is the NAR hash of `go mod vendor`'s output, computed offline
# (go mod vendor -o DIR; nix hash path DIR); internal/deptest's
# TestNixPackageVendorHash (long tier) fails when go.mod or go.sum moved
# without it. cgo is on: the Btrfs snapshots and restore need it
# (github.com/containerd/btrfs includes the kernel's btrfs headers).
{ lib, buildGoModule, version ? "0.1.0", commit ? "unknown" }:

buildGoModule {
  pname = "vigil";
  inherit version;
  src = lib.cleanSource ../.;
  vendorHash = "sha256-nchKQUj+pl4+IXelYRXCCJA9sPyMw9FDbYZqV6p/190=";
  subPackages = [ "cmd/vigil" ];
  env.CGO_ENABLED = "1";
  ldflags = [ "-X main.commit=${commit}" "-X main.version=${version}" ];
  # The tests need root, loop devices and a Nix store of their own: CI runs them.
  doCheck = false;
  meta = {
    description = "File integrity monitor for hardened Linux and NixOS hosts";
    mainProgram = "vigil";
    platforms = lib.platforms.linux;
  };
}
