{
  description = "hostseal: seal secrets to the keys of the machines that need them (sops format), install them at NixOS activation";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      linuxSystems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      systems = linuxSystems ++ [
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forSystems = these: f: lib.genAttrs these (system: f nixpkgs.legacyPackages.${system});

      cargoFiles = [
        ./Cargo.toml
        ./Cargo.lock
        ./src
        ./nix/defaults.json # embedded by the installer (include_str!)
        (lib.fileset.maybeMissing ./benches)
        (lib.fileset.maybeMissing ./examples)
        (lib.fileset.maybeMissing ./README.md)
      ];

      # The package: only what cargo needs, so editing docs or nix/ files does not rebuild it.
      mkHostseal =
        pkgs:
        pkgs.rustPlatform.buildRustPackage {
          pname = "hostseal";
          version = (lib.importTOML ./Cargo.toml).package.version;
          src = lib.fileset.toSource {
            root = ./.;
            fileset = lib.fileset.unions cargoFiles;
          };
          cargoLock.lockFile = ./Cargo.lock;
          # The integration tests need the real sops, age and Nix; the unit tests need nothing.
          cargoTestFlags = [ "--lib" ];
          meta = {
            description = "Seal secrets with the sops format and install them on NixOS hosts";
            license = with lib.licenses; [
              mit
              asl20
            ];
            mainProgram = "hostseal";
          };
        };

      # tests/nix_eval.rs and tests/nix_module.rs in the sandbox: the pure manifest with the real
      # Nix; the NixOS, home-manager and nix-darwin modules with this flake's nixpkgs lib (and
      # the nixpkgs module files vendored in tests/fixtures/nixpkgs); the manifests through the
      # built installer's check modes.
      nixEvalCheck =
        pkgs:
        (mkHostseal pkgs).overrideAttrs (old: {
          pname = "hostseal-nix-eval";
          src = lib.fileset.toSource {
            root = ./.;
            fileset = lib.fileset.unions (
              cargoFiles
              ++ [
                ./tests
                ./nix
                ./flake.nix
              ]
            );
          };
          cargoTestFlags = [
            "--test"
            "nix_eval"
            "--test"
            "nix_module"
          ];
          nativeCheckInputs = (old.nativeCheckInputs or [ ]) ++ [
            pkgs.nix
            pkgs.jq
            pkgs.sops
          ];
          HOSTSEAL_SOPS = "${pkgs.sops}/bin/sops";
          HOSTSEAL_NIXPKGS_LIB = "${nixpkgs}/lib";
        });

      # `hostseal check` over a source tree: the enforcing gate behind the pre-commit hook.
      checkSealedWith =
        pkgs: src:
        pkgs.runCommand "hostseal-check-sealed"
          {
            nativeBuildInputs = [ (mkHostseal pkgs) ];
          }
          ''
            cd ${src}
            hostseal check .
            touch "$out"
          '';
    in
    {
      overlays.default = final: _prev: { hostseal = mkHostseal final; };

      # A user's own secrets in $XDG_RUNTIME_DIR (sops-nix's home-manager layout).
      homeManagerModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/home-manager.nix ];
          hostseal.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      homeManagerModules.hostseal = self.homeManagerModules.default;

      # nix-darwin: secrets and remote builders on a Mac. UNTESTED on macOS (evaluated only).
      darwinModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/darwin.nix ];
          hostseal.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      darwinModules.hostseal = self.darwinModules.default;

      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/module.nix ];
          hostseal.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          hostseal.validationPackage = lib.mkDefault self.packages.${pkgs.stdenv.buildPlatform.system}.default;
        };
      nixosModules.hostseal = self.nixosModules.default;

      packages = forSystems systems (pkgs: {
        default = mkHostseal pkgs;
        hostseal = mkHostseal pkgs;
      });

      lib = {
        # `checks.<system>.sealed = hostseal.lib.checkSealedFor "<system>" ./.;`
        checkSealedFor = system: checkSealedWith nixpkgs.legacyPackages.${system};
        # `hostseal.lib.checkSealed ./.` — the same on x86_64-linux, the usual CI system.
        checkSealed = self.lib.checkSealedFor "x86_64-linux";
        # The pure manifest function, for inspecting a configuration without building it.
        manifest = import ./nix/manifest.nix;
        # One source for each host's ssh host key (docs/remote-builders.md):
        #   hosts = hostseal.lib.hostKeys { builder = "ssh-ed25519 AAAA… root@builder"; };
        # gives hosts.builder.{ hostKey, hostRecipient, publicHostKey, sopsRecipient }.
        inherit
          (import ./nix/lib.nix { defaults = builtins.fromJSON (builtins.readFile ./nix/defaults.json); })
          hostKeys
          ;
      };

      checks = forSystems linuxSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        nix-eval = nixEvalCheck pkgs;
        # NixOS VM test of a sealed tunnel credential in both layouts. Written, not run here.
        tunnel = import ./nix/tests/tunnel.nix { inherit pkgs self; };
      });

      devShells = forSystems systems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            cargo
            rustc
            clippy
            rustfmt
            sops
            age
            nix
          ];
          # tests/common/mod.rs runs the real sops from here.
          HOSTSEAL_SOPS = "${pkgs.sops}/bin/sops";
        };
      });

      formatter = forSystems systems (pkgs: pkgs.nixfmt-rfc-style);
    };
}
