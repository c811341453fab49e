//! Writes to stderr and exits with status 3.

fn main() {
    println!("partial output");
    eprintln!("something went wrong");
    std::process::exit(3);
}
