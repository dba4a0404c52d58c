//! The `booking` Lambda function: the page a prospect opens from the SMS (rule 8, docs/architecture.md).

pub mod form;
pub mod handler;
pub mod lang;
pub mod pages;
pub mod routing;
pub mod store;

/// Serve this function's invocations until the Lambda Runtime API stops: the wiring, done once
/// per cold start (settings from the environment, the AWS clients, the handler's ports). The
/// `booking` binary runs it, and so can a multi-call binary (`make bench` measures one).
///
/// Errors: a missing or invalid setting (`Settings::from_env`), or the runtime's own.
pub async fn serve() -> Result<(), lambda_http::Error> {
    use crate::handler::{Deps, handle};
    use lambda_http::{run, service_fn};
    use rappel::aws::{EventBus, Settings, Table};
    use rappel::ports::SystemClock;

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
    // A prospect is waiting on the first page: every connection is opened before it.
    rappel::aws::warm_up(vec![
        ("dynamodb", Box::pin(deps.table.warm_up())),
        ("kms", Box::pin(deps.keys.warm_up())),
        ("eventbridge", Box::pin(deps.events.warm_up())),
    ])
    .await;
    run(service_fn(|req| handle(&deps, req))).await
}
