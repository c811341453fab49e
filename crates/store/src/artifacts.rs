//! Content-addressed deployment packages on disk.
