//! End-to-end tests: a real `updraft serve` driven by the real clients
//! (aws CLI v1 and v2, boto3, the updraft CLI, plain HTTP).
//!
//! One test binary (`cargo test -p updraft --test all`), one module per
//! area; `support` starts servers and runs the clients. Modules whose
//! tests do not interfere share one server and use unique function names.

mod support;

mod accounts;
mod async_events;
mod aws_cli;
mod bad_input;
mod boto3;
mod cli;
mod conformance;
mod control_plane;
mod durability;
mod eventbridge;
mod examples;
mod faults;
mod hostile;
mod iam;
mod iam_cli;
mod logs;
mod mappings;
mod metrics;
mod node;
mod persistence;
mod process;
mod s3;
mod scheduler;
mod shutdown;
mod sqs;
mod streams;
mod tables;
mod tls;
mod urls;
mod usage;
