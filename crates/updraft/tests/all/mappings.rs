//! End-to-end tests: mappings.
