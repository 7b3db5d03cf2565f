//! Templates (docs/manifest.md#what-install-does, step 6): sops-nix's placeholders replaced by secret bytes in one pass, so
//! a secret value that itself contains a placeholder is never expanded again.

use crate::secret::SecretBytes;
use std::collections::BTreeMap;

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// It uses the placeholder of a secret that failed (named).
    FailedInput(String),
}

/// Renders `text`: every occurrence of a placeholder in `placeholders` (secret name →
/// placeholder) is replaced by that secret's bytes from `values`. Scans left to right once;
/// replaced bytes are never rescanned. A placeholder whose secret is not in `values` fails.
pub fn render(
    text: &[u8],
    placeholders: &BTreeMap<String, String>,
    values: &BTreeMap<String, SecretBytes>,
) -> Result<SecretBytes, RenderError> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(rest) = text.get(i..).filter(|r| !r.is_empty()) {
        match match_at(rest, placeholders) {
            Some((name, len)) => {
                let v = values
                    .get(name)
                    .ok_or_else(|| RenderError::FailedInput(name.to_string()))?;
                out.extend_from_slice(v.expose());
                i = i.saturating_add(len);
            }
            None => {
                out.extend_from_slice(rest.get(..1).unwrap_or_default());
                i = i.saturating_add(1);
            }
        }
    }
    Ok(SecretBytes::new(out))
}

/// The secret whose placeholder starts `rest`, and the placeholder's length (longest wins).
fn match_at<'a>(
    rest: &[u8],
    placeholders: &'a BTreeMap<String, String>,
) -> Option<(&'a str, usize)> {
    if rest.first() != Some(&b'<') {
        return None;
    }
    placeholders
        .iter()
        .filter(|(_, p)| !p.is_empty() && rest.starts_with(p.as_bytes()))
        .max_by_key(|(_, p)| p.len())
        .map(|(n, p)| (n.as_str(), p.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::validate::placeholder_for;

    fn setup() -> (BTreeMap<String, String>, BTreeMap<String, SecretBytes>) {
        let mut p = BTreeMap::new();
        p.insert("a".to_string(), placeholder_for("a"));
        p.insert("b".to_string(), placeholder_for("b"));
        let mut v = BTreeMap::new();
        // a's value contains b's placeholder: it must not be expanded again.
        v.insert(
            "a".to_string(),
            SecretBytes::new(placeholder_for("b").into_bytes()),
        );
        v.insert("b".to_string(), SecretBytes::new(b"B".to_vec()));
        (p, v)
    }

    #[test]
    fn one_pass_no_reexpansion() {
        let (p, v) = setup();
        let text = format!("x={} y={}\n", placeholder_for("a"), placeholder_for("b"));
        let out = render(text.as_bytes(), &p, &v).unwrap();
        let want = format!("x={} y=B\n", placeholder_for("b"));
        assert_eq!(out.expose(), want.as_bytes());
    }

    #[test]
    fn failed_input_fails_template() {
        let (p, mut v) = setup();
        v.remove("b");
        let text = placeholder_for("b");
        assert_eq!(
            render(text.as_bytes(), &p, &v).err(),
            Some(RenderError::FailedInput("b".into()))
        );
        assert_eq!(
            render(b"<no placeholder>", &p, &v).unwrap().expose(),
            b"<no placeholder>"
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::install::validate::placeholder_for;
    use proptest::prelude::*;

    proptest! {
        /// Splicing placeholders between arbitrary text yields the text with the values in
        /// their places; text without placeholders is unchanged.
        #[test]
        fn render_splices_values(parts in proptest::collection::vec("[^<]*", 1..5), v in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut p = BTreeMap::new();
            p.insert("s".to_string(), placeholder_for("s"));
            let mut values = BTreeMap::new();
            values.insert("s".to_string(), SecretBytes::new(v.clone()));
            let text = parts.join(&placeholder_for("s"));
            let mut want = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    want.extend_from_slice(&v);
                }
                want.extend_from_slice(part.as_bytes());
            }
            let got = render(text.as_bytes(), &p, &values).unwrap();
            prop_assert_eq!(got.expose(), &want[..]);
        }
    }
}
