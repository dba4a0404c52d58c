//! Webhook intake: turns a provider's call-ended webhook into one stored, protected call.
pub mod handler;

/// Serve this function's invocations until the Lambda Runtime API stops: the wiring, done once
/// per cold start (settings from the environment, the AWS clients, the handler's ports). The
/// `webhook-intake` binary runs it, and so can a multi-call binary (`make bench` measures one).
///
/// Errors: a missing or invalid setting (`Settings::from_env`), or the runtime's own.
pub async fn serve() -> Result<(), lambda_http::Error> {
    use crate::handler::{Deps, handle};
    use lambda_http::{run, service_fn};
    use rappel::aws::{self, Settings};
    use rappel::ports::SystemClock;

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
    // The first webhook reads the account (DynamoDB) and opens its secrets (KMS).
    aws::warm_up(vec![
        ("dynamodb", Box::pin(deps.table.warm_up())),
        ("kms", Box::pin(deps.keys.warm_up())),
    ])
    .await;
    run(service_fn(|req| handle(&deps, req))).await
}
