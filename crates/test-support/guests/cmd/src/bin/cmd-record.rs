//! Records its event in the log: writes `event: <stdin>` (and
//! `traceparent: <TRACEPARENT>` when that variable is set) to stderr and
//! `{"received": <stdin as a string>}` to stdout. Fails (exit status 1)
//! when the event contains `"fail"`, so retries and failure destinations
//! can be exercised.

use std::io::{Read, Write};

fn main() {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .expect("reading stdin");
    eprintln!("event: {input}");
    if let Ok(traceparent) = std::env::var("TRACEPARENT") {
        eprintln!("traceparent: {traceparent}");
    }
    let escaped: String = input
        .chars()
        .flat_map(|c| match c {
            '"' => "\\\"".chars().collect::<Vec<_>>(),
            '\\' => "\\\\".chars().collect(),
            '\n' => "\\n".chars().collect(),
            c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect();
    write!(std::io::stdout(), "{{\"received\":\"{escaped}\"}}").expect("writing stdout");
    if input.contains("\"fail\"") {
        eprintln!("failing on purpose");
        std::process::exit(1);
    }
}
