//! Inbound SMS: STOP replies to an account's short code, received through the two-way SMS
//! topic of AWS End User Messaging SMS, become opt-outs.
pub mod handler;
