use lambda_http::{Error, run, service_fn};
use rappel::aws::{self, Settings};
use rappel::ports::SystemClock;
use webhook_intake::handler::{Deps, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws::init_logging();
    let settings = Settings::from_env()?;
    let config = aws::sdk_config().await;
    let deps = Deps {
        table: aws::table(&config, &settings),
        keys: aws::kms(&config, &settings),
        clock: SystemClock,
        public_base_url: settings.public_base_url.clone(),
        secrets: Default::default(),
        due_shards: settings.due_shards,
    };
    run(service_fn(|req| handle(&deps, req))).await
}
