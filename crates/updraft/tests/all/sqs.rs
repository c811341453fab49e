//! End-to-end tests: sqs.
