//! The `booking` Lambda function: the page a prospect opens from the SMS (DESIGN rule 8).

pub mod handler;
