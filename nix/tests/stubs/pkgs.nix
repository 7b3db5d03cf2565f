# `pkgs` for evaluating the modules without nixpkgs' package set: builders return inspectable
# attrsets (their text kept) instead of derivations; packages are named store paths.
{ lib }:
let
  fakeDrv =
    name: extra:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
      outputName = "out";
    }
    // extra;
  package =
    pname:
    fakeDrv pname {
      inherit pname;
      meta.mainProgram = pname;
    };
in
{
  inherit fakeDrv;
  hostseal = package "hostseal";
  cloudflared = package "cloudflared";
  jq = package "jq";
  coreutils = package "coreutils";
  gnugrep = package "gnugrep";
  findutils = package "findutils";
  getent = package "getent";
  shadow = package "shadow";
  nettools = package "nettools";
  util-linux = package "util-linux";
  stdenv.cc.libc = package "glibc";
  runtimeShell = "/nix/store/00000000000000000000000000000000-bash/bin/bash";
  age-plugin-yubikey = package "age-plugin-yubikey";
  writeText = name: text: fakeDrv name { inherit text; };
  writeTextFile = args: fakeDrv args.name { inherit (args) text checkPhase; };
  writeShellScript = name: text: fakeDrv name { inherit text; };
  runCommand =
    name: env: script:
    fakeDrv name { inherit env script; };
}
