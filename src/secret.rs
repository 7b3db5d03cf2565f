//! Types that hold secret bytes. They zeroize on drop (best effort: the allocator, the kernel
//! and earlier copies made by libraries are out of our reach), have no `Debug`, `Clone` or
//! `Serialize`, so a secret cannot end up in a log line or an error by accident.

use zeroize::{Zeroize, Zeroizing};

/// The 32-byte sops data key.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// Length of a sops data key.
    pub const LEN: usize = 32;

    /// A fresh random data key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        DataKey(k)
    }

    /// Wraps key bytes recovered from an age stanza or a Shamir combination.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(DataKey(Zeroizing::new(arr)))
    }

    /// The raw key, for the cipher and for wrapping.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether two data keys are the same (constant time is not needed: both are ours).
    pub fn same_as(&self, other: &DataKey) -> bool {
        self.0[..] == other.0[..]
    }
}

/// Plaintext secret bytes (a decrypted value, a whole decrypted file).
#[derive(Default)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of plaintext bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }
    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// Hands the bytes back, wrapped so they still zeroize.
    pub fn into_zeroizing(mut self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(std::mem::take(&mut self.0))
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

/// Fails to compile if a type that can hold plaintext gains `Clone` (a copy would outlive the
/// zeroizing of the original) or, for the types with no `Debug` at all, `Debug`. The trick is
/// the one `static_assertions::assert_not_impl_any!` uses: with the trait implemented, the
/// `_` in `Ambiguous<_>` has two candidates and type inference fails.
#[cfg(test)]
mod never_copied {
    macro_rules! assert_not_impl {
        ($t:ty, $tr:path) => {
            const _: fn() = || {
                trait Ambiguous<A> {
                    fn some_item() {}
                }
                impl<T: ?Sized> Ambiguous<()> for T {}
                #[allow(dead_code)]
                struct Invalid;
                impl<T: ?Sized + $tr> Ambiguous<Invalid> for T {}
                let _ = <$t as Ambiguous<_>>::some_item;
            };
        };
    }

    use crate::format::tree::{Map, MapItem, Node, Scalar, Tree};
    assert_not_impl!(Tree, Clone);
    assert_not_impl!(Map, Clone);
    assert_not_impl!(MapItem, Clone);
    assert_not_impl!(Node, Clone);
    assert_not_impl!(Scalar, Clone);
    assert_not_impl!(super::SecretBytes, Clone);
    assert_not_impl!(super::DataKey, Clone);
    assert_not_impl!(super::DataKey, std::fmt::Debug);
    assert_not_impl!(crate::sops::Opened, Clone);
    assert_not_impl!(crate::sops::Opened, std::fmt::Debug);
    assert_not_impl!(crate::install::extract::PlainTree, Clone);
    assert_not_impl!(crate::install::extract::PlainTree, std::fmt::Debug);

    #[test]
    fn secret_bytes_debug_is_redacted() {
        let s = super::SecretBytes::new(b"hunter2".to_vec());
        assert_eq!(format!("{s:?}"), "SecretBytes(<redacted>)");
    }
}
