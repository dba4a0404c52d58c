//! Webhook intake: turns a provider's call-ended webhook into one stored, protected call.
pub mod handler;
