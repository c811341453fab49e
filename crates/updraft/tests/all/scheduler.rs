//! End-to-end tests: scheduler.
