//! Wrapping and unwrapping of the data key across key groups. (Skeleton.)
