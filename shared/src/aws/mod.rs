//! AWS adapters
