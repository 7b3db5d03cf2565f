//! The `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` value encoding (FORMAT §2). (Skeleton.)
