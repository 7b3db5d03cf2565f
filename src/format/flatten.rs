//! Flattening of the `sops` metadata mapping into `sops_a__map_b__list_0…` keys and back, for
//! the dotenv and INI stores, which cannot nest. (Skeleton: being written.)
