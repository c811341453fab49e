//! Copies stdin to stdout; writes `cmd-echo: N bytes` to stderr.

use std::io::{Read, Write};

fn main() {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).expect("reading stdin");
    std::io::stdout().write_all(&input).expect("writing stdout");
    eprintln!("cmd-echo: {} bytes", input.len());
}
