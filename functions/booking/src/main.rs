//! `booking` Lambda: wiring only. Clients are built once per cold start; the handler lives in
//! [`booking::handler`].

use booking::handler::{Deps, handle};
use lambda_http::{Error, run, service_fn};
use rappel::aws::{EventBus, Settings, Table};
use rappel::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rappel::aws::init_logging();
    rappel::funnel::enable();
    let settings = Settings::from_env()?;
    let cfg = rappel::aws::sdk_config().await;
    let deps = Deps {
        keys: rappel::aws::kms(&cfg, &settings),
        table: Table::new(
            aws_sdk_dynamodb::Client::new(&cfg),
            settings.table_name.clone(),
        ),
        events: EventBus::new(
            aws_sdk_eventbridge::Client::new(&cfg),
            settings.event_bus_name,
        ),
        clock: SystemClock,
        public_base_url: settings.public_base_url,
    };
    run(service_fn(|req| handle(&deps, req))).await
}
