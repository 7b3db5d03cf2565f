//! Key rotation over whole trees (docs/key-rotation.md).
//!
//! The commands are short pipelines over these steps, each testable on its own:
//!
//! * [`walk`]: the paths given → the candidate files (skipping `.git`, symlinks, temp files).
//! * [`sealed`]: bytes → what kind of sealed file it is (a sops store, or whole-file age), and
//!   its metadata, without any key.
//! * [`plan`]: a file's key groups against its rule's: `+`/`-` per recipient, named from the
//!   rules file's `keys:` anchors, and whether the data key must change.
//! * [`rewrite`]: the new bytes of one file (re-wrapped or re-encrypted), with identities.
//! * [`apply`]: every new file written beside its original, then renamed into place one by one.
//! * [`steps`]: what to do with each loaded file (shared by `updatekeys` and `rotate`).
//! * [`job`]: the pipeline `updatekeys` and `rotate` share (load, produce, write).
//! * [`audit`]: who can open what, and whether it agrees with the rules.

pub mod apply;
pub mod audit;
pub mod job;
pub mod plan;
pub mod rewrite;
pub mod sealed;
pub mod steps;
pub mod walk;
