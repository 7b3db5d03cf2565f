//! Shamir secret sharing over GF(2^8) as sops does it (docs/format.md#key-groups-and-shamir).
//!
//! With several key groups the data key is split so that any `threshold` groups recover it.
//! The field is GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1 (0x11B), as in HashiCorp
//! Vault's `shamir` package that sops uses. A share is the y-values (one per secret byte)
//! followed by one x byte; group i gets x = i (1-based).
//!
//! The arithmetic is table-free and branch-free on secret data: multiplication is a
//! fixed-count shift-and-add loop with masks instead of branches, and inversion is
//! exponentiation to 254 by a fixed chain of multiplications. Only the public x
//! coordinates and lengths decide control flow.

use crate::error::Error;
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

/// Adds (and subtracts) two field elements: XOR in characteristic 2.
fn add(a: u8, b: u8) -> u8 {
    a ^ b
}

/// Multiplies two field elements modulo 0x11B, in constant time (8 fixed rounds, masks).
fn mul(a: u8, b: u8) -> u8 {
    let mut a = a;
    let mut b = b;
    let mut product = 0u8;
    for _ in 0..8 {
        // mask = 0xFF when the low bit of b is set, else 0x00.
        let take = 0u8.wrapping_sub(b & 1);
        product ^= a & take;
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1B & carry);
        b >>= 1;
    }
    product
}

/// The multiplicative inverse (a^254); inv(0) = 0, which callers never rely on.
fn inv(a: u8) -> u8 {
    // 254 = 0b11111110: square-and-multiply with a fixed sequence.
    let a2 = mul(a, a);
    let a3 = mul(a2, a);
    let a6 = mul(a3, a3);
    let a7 = mul(a6, a);
    let a14 = mul(a7, a7);
    let a15 = mul(a14, a);
    let a30 = mul(a15, a15);
    let a31 = mul(a30, a);
    let a62 = mul(a31, a31);
    let a63 = mul(a62, a);
    let a126 = mul(a63, a63);
    let a127 = mul(a126, a);
    mul(a127, a127)
}

/// Divides `a` by a non-zero `b`.
fn div(a: u8, b: u8) -> u8 {
    mul(a, inv(b))
}

/// Evaluates the polynomial with `coefficients` (constant term first) at `x` (Horner).
fn evaluate(coefficients: &[u8], x: u8) -> u8 {
    coefficients
        .iter()
        .rev()
        .fold(0u8, |acc, &c| add(mul(acc, x), c))
}

/// Splits `secret` into `parts` shares of which any `threshold` recover it.
///
/// Each share is `secret.len()` y-bytes followed by its x byte (1..=parts). Coefficients
/// come from the operating system's CSPRNG. Requires 2 ≤ threshold ≤ parts and a non-empty
/// secret.
pub fn split(secret: &[u8], parts: u8, threshold: u8) -> Result<Vec<Zeroizing<Vec<u8>>>, Error> {
    if secret.is_empty() {
        return Err(Error::failure("shamir: cannot split an empty secret"));
    }
    if threshold < 2 {
        return Err(Error::failure("shamir: the threshold must be at least 2"));
    }
    if threshold > parts {
        return Err(Error::failure(format!(
            "shamir: the threshold ({threshold}) is larger than the number of key groups ({parts})"
        )));
    }
    let len = secret.len();
    let mut shares: Vec<Zeroizing<Vec<u8>>> = (1..=parts)
        .map(|x| {
            let mut share = Zeroizing::new(vec![0u8; len]);
            share.push(x);
            share
        })
        .collect();
    let mut coefficients = Zeroizing::new(vec![0u8; usize::from(threshold)]);
    for (i, &byte) in secret.iter().enumerate() {
        rand::rngs::OsRng.fill_bytes(&mut coefficients[..]);
        if let Some(c0) = coefficients.first_mut() {
            *c0 = byte;
        }
        for (share, x) in shares.iter_mut().zip(1..=parts) {
            if let Some(y) = share.get_mut(i) {
                *y = evaluate(&coefficients, x);
            }
        }
    }
    coefficients.zeroize();
    Ok(shares)
}

/// Recovers the secret from shares made by [`split`] (Lagrange interpolation at x = 0).
///
/// Rejects fewer than two shares, shares of different lengths, a zero x and duplicate x
/// values. Fewer shares than the threshold give a wrong secret, which cannot be detected
/// here (the caller's MAC check catches it).
pub fn combine(shares: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, Error> {
    if shares.len() < 2 {
        return Err(Error::failure("shamir: at least two shares are needed"));
    }
    let share_len = shares.first().map_or(0, |s| s.len());
    if share_len < 2 {
        return Err(Error::malformed("shamir: a share is too short"));
    }
    if shares.iter().any(|s| s.len() != share_len) {
        return Err(Error::malformed(
            "shamir: the shares have different lengths",
        ));
    }
    let xs = x_coordinates(shares)?;
    let secret_len = share_len - 1;
    let mut secret = Zeroizing::new(vec![0u8; secret_len]);
    let weights = lagrange_weights_at_zero(&xs);
    for (i, out) in secret.iter_mut().enumerate() {
        let mut acc = 0u8;
        for (share, &w) in shares.iter().zip(weights.iter()) {
            let y = share.get(i).copied().unwrap_or(0);
            acc = add(acc, mul(y, w));
        }
        *out = acc;
    }
    Ok(secret)
}

/// The x byte of each share; errors on x = 0 or a repeated x.
fn x_coordinates(shares: &[&[u8]]) -> Result<Vec<u8>, Error> {
    let mut seen = [false; 256];
    let mut xs = Vec::with_capacity(shares.len());
    for share in shares {
        let x = share.last().copied().unwrap_or(0);
        if x == 0 {
            return Err(Error::malformed("shamir: a share has x = 0"));
        }
        let slot = &mut seen[usize::from(x)];
        if *slot {
            return Err(Error::malformed(format!(
                "shamir: two shares have the same x ({x})"
            )));
        }
        *slot = true;
        xs.push(x);
    }
    Ok(xs)
}

/// For each sample i, the Lagrange basis polynomial l_i evaluated at 0:
/// the product over j ≠ i of x_j / (x_i + x_j). The x values are public.
fn lagrange_weights_at_zero(xs: &[u8]) -> Vec<u8> {
    xs.iter()
        .enumerate()
        .map(|(i, &xi)| {
            xs.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .fold(1u8, |basis, (_, &xj)| mul(basis, div(xj, add(xi, xj))))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Schoolbook multiply with the reduction done on a 16-bit product, as a reference.
    fn mul_reference(a: u8, b: u8) -> u8 {
        let mut p: u16 = 0;
        for bit in 0..8 {
            if (b >> bit) & 1 == 1 {
                p ^= u16::from(a) << bit;
            }
        }
        for bit in (8..16).rev() {
            if (p >> bit) & 1 == 1 {
                p ^= 0x11B << (bit - 8);
            }
        }
        p as u8
    }

    #[test]
    fn multiply_matches_reference_everywhere() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), mul_reference(a, b), "{a} * {b}");
            }
        }
    }

    #[test]
    fn known_field_products() {
        // FIPS-197 §4.2: {57} • {83} = {c1}, {57} • {13} = {fe}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x57, 0x13), 0xfe);
    }

    #[test]
    fn every_nonzero_element_has_an_inverse() {
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1, "inverse of {a}");
        }
    }

    #[test]
    fn combines_a_hand_made_vector() {
        // Secret byte 0x42 with f(x) = 0x42 + 0x07 x: f(1) = 0x45, f(2) = 0x42 ^ 0x0e = 0x4c.
        let s1 = [0x45u8, 1];
        let s2 = [0x4cu8, 2];
        let secret = combine(&[&s1, &s2]).unwrap();
        assert_eq!(&secret[..], &[0x42]);
        // Order of shares does not matter.
        let secret = combine(&[&s2, &s1]).unwrap();
        assert_eq!(&secret[..], &[0x42]);
    }

    #[test]
    fn share_layout_is_y_values_then_x() {
        let shares = split(&[7u8; 32], 3, 2).unwrap();
        assert_eq!(shares.len(), 3);
        for (i, share) in shares.iter().enumerate() {
            assert_eq!(share.len(), 33);
            assert_eq!(usize::from(share[32]), i + 1);
        }
    }

    #[test]
    fn split_rejects_bad_parameters() {
        assert!(split(&[1, 2], 3, 1).is_err());
        assert!(split(&[1, 2], 2, 3).is_err());
        assert!(split(&[], 2, 2).is_err());
        assert!(split(&[1], 255, 255).is_ok());
    }

    #[test]
    fn combine_rejects_bad_shares() {
        let a = [1u8, 2, 1];
        let b = [3u8, 4, 2];
        assert!(combine(&[&a]).is_err(), "one share");
        assert!(combine(&[&a, &a]).is_err(), "duplicate x");
        assert!(combine(&[&a, &[1u8, 2, 0][..]]).is_err(), "x = 0");
        assert!(combine(&[&a, &[1u8, 2][..]]).is_err(), "length mismatch");
        assert!(combine(&[&[1u8][..], &[2u8][..]]).is_err(), "no y bytes");
        assert!(combine(&[&a, &b]).is_ok());
    }

    #[test]
    fn threshold_minus_one_shares_do_not_recover() {
        // With threshold 3, two shares interpolate a line: wrong for almost every secret.
        let secret = [0xA5u8; 32];
        let shares = split(&secret, 3, 3).unwrap();
        let got = combine(&[&shares[0], &shares[1]]).unwrap();
        assert_ne!(&got[..], &secret[..]);
    }

    proptest! {
        #[test]
        fn any_threshold_subset_recovers(
            secret in proptest::collection::vec(any::<u8>(), 1..40),
            parts in 2u8..7,
            threshold_seed in any::<u8>(),
            subset_seed in any::<u64>(),
        ) {
            let threshold = 2 + threshold_seed % (parts - 1);
            let shares = split(&secret, parts, threshold).unwrap();
            // Pick a subset of at least `threshold` shares, in a shuffled order.
            let mut idx: Vec<usize> = (0..usize::from(parts)).collect();
            let mut s = subset_seed;
            for i in (1..idx.len()).rev() {
                let j = (s % (i as u64 + 1)) as usize;
                idx.swap(i, j);
                s = s.rotate_left(7) ^ 0x9E37_79B9_7F4A_7C15;
            }
            let extra = (subset_seed as usize) % (usize::from(parts - threshold) + 1);
            let take = usize::from(threshold) + extra;
            let chosen: Vec<&[u8]> = idx[..take].iter().map(|&i| &shares[i][..]).collect();
            let got = combine(&chosen).unwrap();
            prop_assert_eq!(&got[..], &secret[..]);
        }
    }
}
