//! One module per subcommand: each reads its inputs, calls the library, and writes its output.
//! They are the only code (with `main`) that touches stdout.

pub mod audit;
pub mod check;
pub mod decrypt;
pub mod edit;
pub mod encrypt;
pub mod generate;
pub mod hook;
pub mod io;
pub mod keys;
pub mod rotate;
pub mod rotation_ui;
pub mod tunnel;
pub mod types;
pub mod updatekeys;
