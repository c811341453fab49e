//! Accounts and their principals (in progress).
