//! Sender: claims due messages, re-checks them, publishes the SMS and records it.
pub mod handler;
