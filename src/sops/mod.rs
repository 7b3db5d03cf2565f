//! The sops scheme over a parsed tree: [`open`] (metadata → data key → values → MAC) and
//! [`seal`] (data key → wrapped per recipient → values → MAC → metadata). Pure functions over
//! bytes: no file I/O, no environment; the caller names the file in errors.

pub mod keygroups;
pub mod leaf_rule;
pub mod path;
pub mod walk;

pub use path::{lookup, PathSegment};
pub use walk::{canonical_bytes, IvStash};

use crate::error::Error;
use crate::format::metadata::{self, EmptyList, LeafRule, Metadata};
use crate::format::tree::{Map, Tree};
use crate::format::{EmitOptions, Format};
use crate::keys::identity::IdentitySet;
use crate::keys::recipient::Recipient;
use crate::secret::DataKey;
use leaf_rule::LeafSelector;

/// A sealed file, opened: the plaintext tree (metadata removed), the metadata, the data key and
/// the IVs of its values (to re-seal unchanged values identically). The tree and the key
/// zeroize on drop; no `Debug`, no `Clone`.
pub struct Opened {
    /// The plaintext documents.
    pub tree: Tree,
    /// The file's metadata as read.
    pub metadata: Metadata,
    key: DataKey,
    stash: IvStash,
}

impl Opened {
    /// Emits the plaintext as `format`.
    pub fn emit(&self, format: Format, opts: &EmitOptions) -> Result<Vec<u8>, Error> {
        Ok(format.emit_plain(&self.tree, opts)?)
    }

    /// The data key (for `updatekeys`, which keeps it when only adding recipients).
    pub fn data_key(&self) -> &DataKey {
        &self.key
    }

    /// Re-seals `tree` under the same data key and recipients, keeping the ciphertext of every
    /// unchanged value when opened with [`open_for_edit`] (as `sops edit` does); new
    /// `lastmodified` and MAC.
    pub fn reseal(
        &self,
        tree: &Tree,
        format: Format,
        opts: &EmitOptions,
    ) -> Result<Vec<u8>, Error> {
        let mut md = self.metadata.clone();
        seal_with(tree, format, &self.key, &mut md, Some(&self.stash), opts)
    }
}

/// Splits a sealed tree into documents and metadata (from the first document with a `sops`
/// entry; the entry is removed from every document).
pub fn split_metadata(mut tree: Tree) -> Result<(Tree, Metadata), Error> {
    let mut md_node = None;
    for doc in &mut tree.docs {
        if let Some(n) = doc.remove("sops") {
            md_node.get_or_insert(n);
        }
    }
    let node = md_node.ok_or_else(|| {
        Error::malformed("not a sops file: no sops metadata")
            .with_hint("to seal a plaintext file use `hostseal encrypt`")
    })?;
    Ok((tree, Metadata::from_node(&node)?))
}

/// Opens a sealed file of `format` with `ids`: recovers the data key, decrypts every value and
/// verifies the MAC. Errors carry exit codes 5 (parse), then 3 (key), then 4 (integrity).
/// [`Opened::reseal`] of the result uses fresh IVs; see [`open_for_edit`].
pub fn open(input: &[u8], format: Format, ids: &IdentitySet) -> Result<Opened, Error> {
    open_with(input, format, ids, IvStash::default())
}

/// [`open`], remembering every value's IV so that [`Opened::reseal`] keeps the ciphertext of
/// unchanged values (as `sops edit` does: the diff shows only what was edited). Costs a hash
/// of every plaintext, which plain decryption does not need.
pub fn open_for_edit(input: &[u8], format: Format, ids: &IdentitySet) -> Result<Opened, Error> {
    open_with(input, format, ids, IvStash::recording())
}

fn open_with(
    input: &[u8],
    format: Format,
    ids: &IdentitySet,
    stash: IvStash,
) -> Result<Opened, Error> {
    let tree = format.parse_sealed(input)?;
    let (tree, metadata) = split_metadata(tree)?;
    open_split_with(&tree, metadata, ids, stash)
}

/// [`open`] for a file already parsed and split by [`split_metadata`]: `check` parses each
/// file to judge it, and parsing it a second time to verify its MAC would double that cost.
pub fn open_split(tree: &Tree, metadata: Metadata, ids: &IdentitySet) -> Result<Opened, Error> {
    open_split_with(tree, metadata, ids, IvStash::default())
}

fn open_split_with(
    tree: &Tree,
    metadata: Metadata,
    ids: &IdentitySet,
    mut stash: IvStash,
) -> Result<Opened, Error> {
    let sel = LeafSelector::new(&metadata.leaf_rule)?;
    walk::check_values(tree)?;
    if let Some(mac) = &metadata.mac {
        crate::format::value::EncValue::parse(mac)
            .map_err(|e| Error::malformed(format!("sops.mac: {e}")))?;
    }
    let key = keygroups::recover(&metadata, ids)?;
    let (plain, mac) = walk::open_tree(tree, &key, &sel, metadata.mac_only_encrypted, &mut stash)?;
    let opened = Opened {
        tree: plain,
        metadata,
        key,
        stash,
    };
    verify_mac(&opened.metadata, &opened.key, &mac)?;
    Ok(opened)
}

fn verify_mac(md: &Metadata, key: &DataKey, computed: &str) -> Result<(), Error> {
    let stored = md
        .mac
        .as_deref()
        .ok_or_else(|| Error::integrity("the file has no MAC"))?;
    let value = crate::format::value::EncValue::parse(stored)
        .map_err(|e| Error::malformed(format!("sops.mac: {e}")))?;
    let aad = md.mac_aad()?;
    let plain = crate::format::cipher::decrypt(key, &value, aad.as_bytes()).map_err(|_| {
        Error::integrity("the MAC does not authenticate (MAC or lastmodified altered)")
    })?;
    if plain.as_slice() != computed.as_bytes() {
        return Err(Error::integrity(
            "MAC mismatch: the file's values, their order or its clear-text values were altered",
        ));
    }
    Ok(())
}

/// What to seal a file to, and how.
pub struct SealParams {
    /// Key groups of recipients (one group = every recipient gets the whole data key).
    pub groups: Vec<Vec<Recipient>>,
    /// Shamir threshold for several groups (unset = all groups).
    pub threshold: Option<usize>,
    /// Which leaves are encrypted (ignored for the binary store).
    pub leaf_rule: LeafRule,
    /// Only encrypted leaves in the MAC.
    pub mac_only_encrypted: bool,
}

/// Seals a plaintext tree under a fresh data key.
pub fn seal(
    tree: &Tree,
    format: Format,
    params: &SealParams,
    opts: &EmitOptions,
) -> Result<Vec<u8>, Error> {
    for doc in &tree.docs {
        if doc.get("sops").is_some() {
            return Err(Error::failure(
                "the input already has a top-level `sops` entry (is it sealed already?)",
            ));
        }
    }
    let key = DataKey::generate();
    let (groups, threshold) = keygroups::wrap(&key, &params.groups, params.threshold)?;
    let mut md = Metadata {
        groups,
        shamir_threshold: threshold,
        lastmodified: String::new(),
        mac: None,
        leaf_rule: if format == Format::Binary {
            LeafRule::None
        } else {
            params.leaf_rule.clone()
        },
        mac_only_encrypted: params.mac_only_encrypted,
        version: metadata::WRITE_VERSION.to_string(),
        unknown: Vec::new(),
    };
    seal_with(tree, format, &key, &mut md, None, opts)
}

/// Encrypts `tree` under `key`, stamps `md` with a new time and MAC, and emits the file.
pub fn seal_with(
    tree: &Tree,
    format: Format,
    key: &DataKey,
    md: &mut Metadata,
    stash: Option<&IvStash>,
    opts: &EmitOptions,
) -> Result<Vec<u8>, Error> {
    let sel = LeafSelector::new(&md.leaf_rule)?;
    let (mut sealed, mac) = walk::seal_tree(tree, key, &sel, md.mac_only_encrypted, stash);
    md.lastmodified = metadata::now_lastmodified();
    md.version = metadata::WRITE_VERSION.to_string();
    let aad = md.mac_aad()?;
    let mac_value = crate::format::cipher::encrypt(
        key,
        mac.as_bytes(),
        aad.as_bytes(),
        crate::format::value::ValueType::Str,
        crate::format::cipher::random_iv(),
    );
    md.mac = Some(mac_value.render());
    let empty = if format == Format::Yaml {
        EmptyList::Empty
    } else {
        EmptyList::Null
    };
    let md_node = md.to_node(empty);
    if sealed.docs.is_empty() {
        sealed.docs.push(Map::default());
    }
    for doc in &mut sealed.docs {
        doc.push("sops", md_node.duplicate());
    }
    Ok(format.emit_sealed(&sealed, opts)?)
}

/// What shows that `input` (to be sealed as `format`) is sealed already: whole-file age, or
/// sops metadata that parses (any store; a binary-typed input is tried as JSON and YAML).
/// `None` for anything else, including a tree with a `sops` key that is not sops metadata
/// (sealing refuses that one on its own). Checked before any store-specific validation, so
/// sealing a sealed file says so instead of judging its encrypted values.
pub fn already_sealed(input: &[u8], format: Format) -> Option<String> {
    if crate::commit::check::is_age_file(input) {
        return Some("it is a whole-file age file".to_string());
    }
    let candidates: &[Format] = match format {
        Format::Age => &[],
        Format::Binary => &[Format::Json, Format::Yaml],
        _ => std::slice::from_ref(&format),
    };
    candidates.iter().find_map(|f| {
        let tree = f.parse_sealed(input).ok()?;
        let md = Metadata::from_node(tree.docs.first()?.get("sops")?).ok()?;
        Some(format!(
            "it has sops metadata, last modified {}",
            md.lastmodified
        ))
    })
}

/// Whether parsed bytes are a sealed sops file (have `sops` metadata that parses).
pub fn is_sealed(tree: &Tree) -> bool {
    tree.docs
        .first()
        .and_then(|d| d.get("sops"))
        .is_some_and(|n| Metadata::from_node(n).is_ok())
}
