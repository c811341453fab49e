//! The conformance suite every [`Backend`] passes.
//!
//! Each check takes a fresh, empty backend and asserts one part of the
//! contract in [`crate::backend`]; [`run_all`] runs them all, each on a new
//! backend from the factory it is given:
//!
//! ```text
//! #[test]
//! fn conformance() {
//!     updraft_s3::backend::conformance::run_all(&|| Box::new(MyBackend::open_temp()));
//! }
//! ```
//!
//! Checks panic on the first violation; the running check's name is
//! printed first so a failure can be placed.

use crate::backend::Backend;

/// One conformance check: its name and the function that runs it.
pub type Check = (&'static str, fn(&dyn Backend));

/// Every check, in the order [`run_all`] runs them.
pub const CHECKS: &[Check] = &[];

/// Runs every check, each on a fresh backend from `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn Backend>) {
    for (name, check) in CHECKS {
        eprintln!("backend conformance: {name}");
        let backend = make();
        check(backend.as_ref());
    }
}
