//! Hits `unreachable` (a trap).

fn main() {
    eprintln!("about to trap");
    std::process::abort();
}
