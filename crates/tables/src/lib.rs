//! Tables: a DynamoDB-compatible database (JSON 1.0 API, expressions, indexes, streams, TTL, transactions).
