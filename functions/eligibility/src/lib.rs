//! Eligibility: the rules applied to each stored call, from the table's stream.
pub mod handler;
