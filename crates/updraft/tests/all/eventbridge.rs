//! End-to-end tests: eventbridge.
