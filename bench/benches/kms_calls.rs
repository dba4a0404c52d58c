//! KMS calls per missed call, averaged over 1,000 calls (`make bench` runs it against the
//! bench stack's moto: `RAPPEL_BENCH_MOTO=http://127.0.0.1:PORT cargo bench --bench kms_calls`).
//!
//! The KMS work of a missed call that is texted, with the real adapter (`rappel::aws::Kms`)
//! and one container per function: intake hashes the caller and seals the number, the sender
//! opens it (eligibility holds no KMS permission). 1,000 calls from 1,000 callers, counted
//! by an SDK interceptor: once for an account with its own caller-hash key (every account
//! created now), once for an account created before those keys (KMS `GenerateMac` per call).
//! Counts include the containers' cold work (opening the hash key, the first data keys).
//! Prints one JSON object.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::Utc;
use rappel::account::Account;
use rappel::aws::provision::{Names, provision};
use rappel::aws::{Kms, Table};
use rappel::phone::E164;
use rappel::ports::{NumberOpener, NumberProtector};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const CALLS: u64 = 1000;

#[derive(Debug, Clone, Default)]
struct Count(Arc<AtomicU64>);

impl Intercept for Count {
    fn name(&self) -> &'static str {
        "BenchKmsCalls"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A Kms adapter as one function's container builds it, counting its KMS calls in `count`.
fn container(config: &aws_config::SdkConfig, names: &Names, count: &Count) -> Kms {
    let client = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(config)
            .interceptor(count.clone())
            .build(),
    );
    Kms::new(client, &names.number_key_alias, &names.hash_key_alias)
        .with_secrets_key(&names.secrets_key_alias)
}

/// KMS calls for CALLS missed calls of `account`: fresh intake and sender containers.
async fn per_call(config: &aws_config::SdkConfig, names: &Names, account: &Account) -> f64 {
    let count = Count::default();
    let intake = container(config, names, &count);
    let sender = container(config, names, &count);
    for i in 0..CALLS {
        let number = E164::from_e164_unchecked(&format!("+3360000{i:04}"));
        let hash = intake.hash(account, &number).await.expect("hash");
        assert_eq!(hash.len(), 64);
        let sealed = intake
            .seal(&account.account_id, &number)
            .await
            .expect("seal");
        let opened = sender
            .open(&account.account_id, &sealed)
            .await
            .expect("open");
        assert_eq!(opened, number);
    }
    count.0.load(Ordering::SeqCst) as f64 / CALLS as f64
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let endpoint = std::env::var("RAPPEL_BENCH_MOTO")
        .expect("RAPPEL_BENCH_MOTO must point at a moto server (make bench starts one)");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(rappel::aws::https_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-west-3"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "bench",
        ))
        .load()
        .await;
    let run = std::process::id();
    let names = Names {
        table: format!("rappel-bench-{run}"),
        number_key_alias: format!("alias/rappel-bench-number-{run}"),
        secrets_key_alias: format!("alias/rappel-bench-secrets-{run}"),
        hash_key_alias: format!("alias/rappel-bench-hash-{run}"),
        event_bus: format!("rappel-bench-{run}"),
    };
    provision(&config, &names).await.expect("provision on moto");
    let table = Table::new(aws_sdk_dynamodb::Client::new(&config), &names.table).without_cache();
    let kms = container(&config, &names, &Count::default());
    let account = |id: &str| {
        Account::from_json(&format!(r#"{{"account_id":"{id}","company_name":"Acme"}}"#)).unwrap()
    };
    table
        .save_account(&kms, &account("keyed"), Utc::now())
        .await
        .expect("save");
    let keyed = table.get_account("keyed").await.unwrap().unwrap();
    assert!(keyed.caller_hash_key.is_some());
    // Stored without a key, as accounts created before per-account keys are.
    table
        .put_account(&account("legacy"), None, Utc::now())
        .await
        .expect("put");
    let legacy = table.get_account("legacy").await.unwrap().unwrap();
    assert!(legacy.caller_hash_key.is_none());
    let line = serde_json::json!({
        "calls": CALLS,
        "kms_per_call": per_call(&config, &names, &keyed).await,
        "kms_per_call_legacy_account": per_call(&config, &names, &legacy).await,
    });
    println!("{line}");
}
