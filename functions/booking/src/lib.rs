//! The `booking` Lambda function: the page a prospect opens from the SMS (rule 8, docs/architecture.md).

pub mod form;
pub mod handler;
pub mod lang;
pub mod pages;
pub mod routing;
pub mod store;
