//! Rappel domain library.
//!
//! Everything that decides, formats or verifies lives here and is pure where it can be:
//! decisions are functions of facts and an injected clock. The AWS adapters (feature `aws`)
//! implement the narrow ports of [`ports`] with the AWS SDK; the same code reaches the local
//! emulator through `AWS_ENDPOINT_URL`.

pub mod account;
pub mod calendar;
pub mod call;
pub mod crypto;
pub mod events;
pub mod funnel;
pub mod items;
pub mod optout;
pub mod phone;
pub mod ports;
pub mod problem;
pub mod providers;
pub mod retention;
pub mod rules;
pub mod slots;
pub mod sms;
pub mod store;

#[cfg(feature = "test-support")]
pub mod fake;

#[cfg(feature = "aws")]
pub mod aws;
