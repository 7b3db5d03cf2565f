//! Key rotation: `updatekeys`, `rotate` and `audit` over whole trees. (Skeleton.)
