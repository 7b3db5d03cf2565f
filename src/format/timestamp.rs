//! YAML timestamps: recognising them (YAML 1.1 timestamp forms that go-yaml resolves) and
//! printing their canonical sops spelling (Go RFC 3339 with nanoseconds, trailing zeros cut).
//! (Skeleton: being written.)
