//! The `booking` Lambda function: the page a prospect opens from the SMS (rule 8, docs/architecture.md).

pub mod handler;
