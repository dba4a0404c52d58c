//! The smallest `lambda_runtime` function: answers `{}` to any event. The cold-start
//! harness (`bench/run.py`, `make bench`) measures it next to Rappel's functions, built with the
//! same release profile, as the floor no function can go under.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<Value, Error>(Value::Object(Default::default()))
    }))
    .await
}
