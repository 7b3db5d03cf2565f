//! Per-value AES-256-GCM with 32-byte IVs and key-path AAD (FORMAT §2–3). (Skeleton.)
