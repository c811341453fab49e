//! `json-event`: a WASI command function.
//!
//! The event arrives on stdin as JSON; the result goes to stdout as JSON:
//! `{"name": "Ada"}` gives `{"message":"Hello, Ada!"}`, and without a
//! `name` field the greeting is for `world`. One log line goes to stderr.
//! Build with `cargo build --release --target wasm32-wasip2`.

use std::io::Read;

use serde_json::{json, Value};

fn main() {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("json-event: cannot read the event: {e}");
        std::process::exit(1);
    }
    let event: Value = if input.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(&input) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("json-event: the event is not JSON: {e}");
                std::process::exit(1);
            }
        }
    };
    let name = event
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("world");
    eprintln!("json-event: greeting {name}");
    println!("{}", json!({ "message": format!("Hello, {name}!") }));
}
