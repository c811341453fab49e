//! Object storage: an S3-compatible service (rest-xml API, storage engine, notifications).
