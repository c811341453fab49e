//! The conformance suite every [`crate::Store`] backend passes.
