use lambda_runtime::{Error, run, service_fn};
use rappel::aws::{self, Settings};
use rappel::ports::SystemClock;
use sender::handler::{Deps, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws::init_logging();
    rappel::funnel::enable();
    let settings = Settings::from_env()?;
    let config = aws::sdk_config().await;
    let deps = Deps {
        table: aws::table(&config, &settings),
        keys: aws::kms(&config, &settings),
        sms: aws::sns(&config),
        events: aws::event_bus(&config, &settings),
        clock: SystemClock,
        due_shards: settings.due_shards,
        public_base_url: settings.public_base_url.clone(),
    };
    run(service_fn(|event| handle(&deps, event))).await
}
