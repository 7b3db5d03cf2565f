//! `.sops.yaml` creation rules (SPEC §2, FORMAT §11). (Skeleton.)
