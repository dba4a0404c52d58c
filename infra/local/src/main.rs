//! `rappel-local`: the whole of Rappel on one machine, no AWS account.
//!
//! Starts moto (or reuses one on `MOTO_PORT`), creates the table, keys and bus, loads the
//! accounts of `RAPPEL_ACCOUNTS_DIR`, then serves on `127.0.0.1:RAPPEL_PORT` the API Gateway
//! routes with the very same handler functions as the Lambdas, plus the `/_local/` control
//! routes (README, "An interactive stack"). Settings:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `RAPPEL_PORT` | 3000 | HTTP port on 127.0.0.1 |
//! | `RAPPEL_CLOCK` | real time | RFC 3339 instant: start a simulated clock there |
//! | `RAPPEL_ACCOUNTS_DIR` | `infra/local/accounts` | account JSON files loaded at start |
//! | `MOTO_PORT` | 5055 | moto's port |
//! | `MOTO_SERVER` | `.venv/bin/moto_server` | moto executable |
//! | `RAPPEL_FAULTS` | off | fault injection spec (`rate=0.2,seed=7,...`, see `infra/local/faults.py`): the handlers' AWS calls go through a proxy that throttles, fails, resets and delays them |
//! | `RAPPEL_FAULTS_PORT` | `MOTO_PORT` + 1 | the fault proxy's port |

mod metrics;
mod pipeline;
mod routes;
mod stack;

use chrono::{DateTime, Utc};
use pipeline::{App, Recorder, RecordingBus, RecordingSms, SharedClock};
use rappel::account::Account;
use rappel::aws::{self, EventBus, Kms, Settings, Sns, Table};
use stack::BoxError;
use std::sync::Arc;
use std::time::Duration;

fn main() {
    aws::init_logging();
    // The same SDK code as on Lambda, pointed at moto through the standard variables. Set
    // before the async runtime starts: no other thread exists yet to read the environment.
    let moto_port = env_or("MOTO_PORT", "5055");
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{moto_port}"));
        for (name, value) in [
            ("AWS_REGION", "eu-west-3"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ] {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(err) = runtime.block_on(run()) {
        eprintln!("rappel-local: {err}");
        std::process::exit(1);
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

async fn run() -> Result<(), BoxError> {
    let port: u16 = env_or("RAPPEL_PORT", "3000")
        .parse()
        .map_err(|_| "RAPPEL_PORT must be a port number")?;
    let moto_port: u16 = env_or("MOTO_PORT", "5055")
        .parse()
        .map_err(|_| "MOTO_PORT must be a port number")?;
    let accounts_dir = env_or("RAPPEL_ACCOUNTS_DIR", "infra/local/accounts");
    let start: Option<DateTime<Utc>> =
        match std::env::var("RAPPEL_CLOCK").ok().filter(|v| !v.is_empty()) {
            Some(v) => Some(
                DateTime::parse_from_rfc3339(&v)
                    .map_err(|e| format!("RAPPEL_CLOCK {v:?} is not RFC 3339: {e}"))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
    let public_base_url = env_or("PUBLIC_BASE_URL", &format!("http://127.0.0.1:{port}"));

    let _moto = stack::start_moto(moto_port).await?;
    let config = aws::sdk_config().await;
    stack::provision(&config).await?;
    // RAPPEL_FAULTS: the handlers' AWS calls go through the fault-injecting proxy
    // (infra/local/faults.py); the runner's own calls (stream, control routes) go to moto.
    let (_faults, handler_endpoint) = match std::env::var("RAPPEL_FAULTS")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(spec) => {
            let faults_port: u16 = env_or("RAPPEL_FAULTS_PORT", &(moto_port + 1).to_string())
                .parse()
                .map_err(|_| "RAPPEL_FAULTS_PORT must be a port number")?;
            let child = stack::start_faults_proxy(faults_port, moto_port, &spec).await?;
            (Some(child), Some(format!("http://127.0.0.1:{faults_port}")))
        }
        None => (None, None),
    };

    let settings = Settings {
        table_name: stack::TABLE_NAME.into(),
        number_key_id: stack::NUMBER_KEY_ALIAS.into(),
        hash_key_id: stack::HASH_KEY_ALIAS.into(),
        secrets_key_id: stack::SECRETS_KEY_ALIAS.into(),
        event_bus_name: stack::EVENT_BUS_NAME.into(),
        public_base_url: public_base_url.clone(),
        due_shards: 4,
    };
    // The functions count the funnel in their logs, as on Lambda.
    rappel::funnel::enable();
    let clock = SharedClock::new(start);
    let records = Recorder::default();
    // The handlers' clients count their calls (GET /_local/aws-calls); the runner's own are not.
    let calls = metrics::AwsCalls::default();
    let dynamodb = {
        let mut builder = aws_sdk_dynamodb::config::Builder::from(&config);
        if let Some(proxy) = &handler_endpoint {
            builder.set_endpoint_url(Some(proxy.clone()));
            builder.set_retry_config(Some(stack::fast_retries()));
        }
        aws_sdk_dynamodb::Client::from_conf(builder.interceptor(calls.clone()).build())
    };
    let kms = {
        let mut builder = aws_sdk_kms::config::Builder::from(&config);
        if let Some(proxy) = &handler_endpoint {
            builder.set_endpoint_url(Some(proxy.clone()));
            builder.set_retry_config(Some(stack::fast_retries()));
        }
        aws_sdk_kms::Client::from_conf(builder.interceptor(calls.clone()).build())
    };
    let sns = {
        let mut builder = aws_sdk_sns::config::Builder::from(&config);
        if let Some(proxy) = &handler_endpoint {
            builder.set_endpoint_url(Some(proxy.clone()));
            builder.set_retry_config(Some(stack::fast_retries()));
        }
        aws_sdk_sns::Client::from_conf(builder.interceptor(calls.clone()).build())
    };
    let eventbridge = {
        let mut builder = aws_sdk_eventbridge::config::Builder::from(&config);
        if let Some(proxy) = &handler_endpoint {
            builder.set_endpoint_url(Some(proxy.clone()));
            builder.set_retry_config(Some(stack::fast_retries()));
        }
        aws_sdk_eventbridge::Client::from_conf(builder.interceptor(calls.clone()).build())
    };
    // No account cache by default: tests change accounts with rappel-admin (another process)
    // and expect the next webhook to see it. ACCOUNT_CACHE_SECONDS=30 behaves as on Lambda
    // (`make bench` counts AWS calls so).
    let account_cache = rappel::aws::account_cache_from_env().unwrap_or_default();
    let table =
        || Table::new(dynamodb.clone(), &settings.table_name).with_account_cache(account_cache);
    let keys = || {
        Kms::new(kms.clone(), &settings.number_key_id, &settings.hash_key_id)
            .with_secrets_key(&settings.secrets_key_id)
    };
    let bus = || RecordingBus {
        bus: EventBus::new(eventbridge.clone(), &settings.event_bus_name),
        records: records.clone(),
        clock: clock.clone(),
    };

    let loaded = load_accounts(
        &aws::table(&config, &settings),
        &aws::kms(&config, &settings),
        &accounts_dir,
        rappel::ports::Clock::now(&clock),
    )
    .await?;

    let app = Arc::new(App {
        intake: webhook_intake::handler::Deps {
            table: table(),
            keys: keys(),
            clock: clock.clone(),
            public_base_url: public_base_url.clone(),
            secrets: Default::default(),
            due_shards: settings.due_shards,
        },
        eligibility: eligibility::handler::Deps {
            table: table(),
            events: bus(),
            clock: clock.clone(),
            due_shards: settings.due_shards,
        },
        sender: sender::handler::Deps {
            table: table(),
            keys: keys(),
            sms: RecordingSms {
                sns: Sns::new(sns.clone()),
                records: records.clone(),
            },
            events: bus(),
            clock: clock.clone(),
            due_shards: settings.due_shards,
            public_base_url: public_base_url.clone(),
            // SMS_SEND_RATE as on Lambda (default 20 per second, real time).
            send_rate: sender::pace::SendRate::from_env(),
        },
        booking: booking::handler::Deps {
            table: table(),
            keys: keys(),
            events: bus(),
            clock: clock.clone(),
            public_base_url: public_base_url.clone(),
        },
        inbound: inbound_sms::handler::Deps {
            table: table(),
            keys: keys(),
            events: bus(),
            clock: clock.clone(),
        },
        // The local routes' own reads are not counted as a function's calls.
        table: aws::table(&config, &settings).without_cache(),
        clock: clock.clone(),
        records,
        calls,
        streams: aws_sdk_dynamodbstreams::Client::new(&config),
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        iterators: Default::default(),
        drain_lock: Default::default(),
        pending_stream: Default::default(),
        retry_due: Default::default(),
        dead_letters: Default::default(),
        last_redecide: Default::default(),
        due_shards: settings.due_shards,
    });

    // What AWS does in the background: stream polling, the rule, the schedule.
    let background = app.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(err) = background.drain().await {
                tracing::error!(error = %err, "background drain failed");
            }
        }
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    print_banner(&public_base_url, &app, &loaded);
    axum::serve(listener, routes::router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Ctrl-C or SIGTERM: stop serving, then moto (our child) is killed as `main` returns.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Load and validate every `*.json` account of `dir` (a bad file stops start-up, naming it).
async fn load_accounts(
    table: &rappel::aws::Table,
    vault: &Kms,
    dir: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Account>, BoxError> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read RAPPEL_ACCOUNTS_DIR {dir}: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut accounts = Vec::new();
    for path in paths {
        let json = std::fs::read_to_string(&path)?;
        let account = Account::from_json(&json).map_err(|e| format!("{}: {e}", path.display()))?;
        table.save_account(vault, &account, now).await?;
        accounts.push(account);
    }
    Ok(accounts)
}

fn print_banner(base: &str, app: &App, accounts: &[Account]) {
    let clock = if app.clock.is_simulated() {
        format!(
            "simulated, now {}",
            rappel::items::ts(rappel::ports::Clock::now(&app.clock))
        )
    } else {
        "real time".to_string()
    };
    println!("Rappel local stack ready on {base} (clock: {clock})");
    for account in accounts {
        println!(
            "  account {:<16} {}",
            account.account_id, account.company_name
        );
        for provider in account.webhook_secrets.keys() {
            println!(
                "    webhook: POST {base}/webhooks/{provider}/{}",
                account.account_id
            );
        }
    }
    if let Some(account) = accounts
        .iter()
        .find(|a| !a.secrets_for("twilio").is_empty())
    {
        let url = format!("{base}/webhooks/twilio/{}", account.account_id);
        let body = "CallSid=CA00000000000000000000000000000001&AccountSid=AC00000000000000000000000000000000&Direction=inbound&From=%2B33600000001&To=%2B33144000000&DialCallStatus=no-answer";
        let signature = rappel::providers::twilio::sign(
            account.secrets_for("twilio")[0],
            &url,
            body.as_bytes(),
        );
        println!(
            "\nTry a missed call (Twilio <Dial action> callback, signed with the demo auth token):"
        );
        println!(
            "  curl -i -X POST '{url}' \\\n    -H 'X-Twilio-Signature: {signature}' \\\n    -d '{body}'"
        );
        println!("  curl -X POST {base}/_local/drain && curl {base}/_local/outbox");
    }
    println!(
        "\nControl routes: /_local/health /_local/clock /_local/drain /_local/outbox /_local/calls?account_id= /_local/events /_local/aws-calls /_local/sms/inbound"
    );
}
