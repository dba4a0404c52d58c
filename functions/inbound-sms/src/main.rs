//! `inbound-sms` Lambda: wiring only. Clients are built once per cold start; the handler lives
//! in [`inbound_sms::handler`].

use inbound_sms::handler::{Deps, handle};
use lambda_runtime::{Error, run, service_fn};
use rappel::aws::{self, Settings};
use rappel::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws::init_logging();
    rappel::funnel::enable();
    let settings = Settings::from_env()?;
    let config = aws::sdk_config().await;
    let deps = Deps {
        table: aws::table(&config, &settings),
        keys: aws::kms(&config, &settings),
        events: aws::event_bus(&config, &settings),
        clock: SystemClock,
    };
    run(service_fn(|event| handle(&deps, event))).await
}
