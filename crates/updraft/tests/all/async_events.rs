//! End-to-end tests: async_events.
