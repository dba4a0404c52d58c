//! Eligibility: the rules applied to each stored call, from the table's stream.
pub mod handler;

/// Serve this function's invocations until the Lambda Runtime API stops: the wiring, done once
/// per cold start (settings from the environment, the AWS clients, the handler's ports). The
/// `eligibility` binary runs it, and so can a multi-call binary (`make bench` measures one).
///
/// Errors: a missing or invalid setting (`Settings::from_env`), or the runtime's own.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    use crate::handler::{Deps, handle};
    use lambda_runtime::{run, service_fn};
    use rappel::aws::{self, Settings};
    use rappel::ports::SystemClock;

    aws::init_logging();
    rappel::funnel::enable();
    let settings = Settings::from_env()?;
    let config = aws::sdk_config().await;
    let deps = Deps {
        table: aws::table(&config, &settings),
        events: aws::event_bus(&config, &settings),
        clock: SystemClock,
        due_shards: settings.due_shards,
    };
    aws::warm_up(vec![
        ("dynamodb", Box::pin(deps.table.warm_up())),
        ("eventbridge", Box::pin(deps.events.warm_up())),
    ])
    .await;
    run(service_fn(|event| handle(&deps, event))).await
}
