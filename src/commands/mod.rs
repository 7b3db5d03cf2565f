//! One module per subcommand: each reads its inputs, calls the library, and writes its output.
//! They are the only code (with `main`) that prints: the library returns what to print or takes
//! a sink for it (`install::log::Log`).

pub mod audit;
pub mod check;
pub mod decrypt;
pub mod edit;
pub mod encrypt;
pub mod generate;
pub mod hook;
pub mod install;
pub mod io;
pub mod keys;
pub mod rotate;
pub mod rotation_ui;
pub mod tunnel;
pub mod types;
pub mod updatekeys;
