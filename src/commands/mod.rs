//! One module per subcommand: each reads its inputs, calls the library, and writes its output.
//! They are the only code (with `main`) that touches stdout.

pub mod decrypt;
pub mod encrypt;
pub mod io;
pub mod keys;
pub mod types;
