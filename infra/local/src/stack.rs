//! moto (the AWS emulator) and the resources `template.yaml` would create, made locally.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use rappel::items::{EXPIRES_AT, GSI1, GSI1PK, GSI1SK, PK, SK};
use std::path::PathBuf;
use std::time::Duration;
use tokio::process::{Child, Command};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Names of the local resources (the same roles as the template's).
pub const TABLE_NAME: &str = "rappel";
pub const NUMBER_KEY_ALIAS: &str = "alias/rappel-number";
pub const HASH_KEY_ALIAS: &str = "alias/rappel-caller-hash";
pub const EVENT_BUS_NAME: &str = "rappel";

/// Start moto on `port` unless one already answers there. The child is killed when dropped.
pub async fn start_moto(port: u16) -> Result<Option<Child>, BoxError> {
    let url = format!("http://127.0.0.1:{port}/moto-api/");
    if reachable(port).await {
        // A local stack starts empty, as a fresh deployment would.
        tracing::info!(
            port,
            "reusing the moto server already listening (reset to empty)"
        );
        reset_moto(port).await?;
        return Ok(None);
    }
    let program = std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".venv/bin/moto_server"));
    if !program.exists() && std::env::var_os("MOTO_SERVER").is_none() {
        return Err(format!(
            "{} not found: run `make venv` (or set MOTO_SERVER)",
            program.display()
        )
        .into());
    }
    let child = Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    for _ in 0..150 {
        if reachable(port).await {
            return Ok(Some(child));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("moto did not answer on {url} within 15 s").into())
}

/// `POST /moto-api/reset`: drop every resource of a moto server we did not start.
async fn reset_moto(port: u16) -> Result<(), BoxError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    if !answer.starts_with(b"HTTP/1.1 200") && !answer.starts_with(b"HTTP/1.0 200") {
        return Err(format!("the server on port {port} is not moto (reset refused)").into());
    }
    Ok(())
}

async fn reachable(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

/// Create the table, the two KMS keys and the bus (skipping what exists already).
pub async fn provision(config: &SdkConfig) -> Result<(), BoxError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let exists = dynamodb
        .describe_table()
        .table_name(TABLE_NAME)
        .send()
        .await
        .is_ok();
    if !exists {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("key schema")
        };
        dynamodb
            .create_table()
            .table_name(TABLE_NAME)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(PK))
            .attribute_definitions(attr(SK))
            .attribute_definitions(attr(GSI1PK))
            .attribute_definitions(attr(GSI1SK))
            .key_schema(key(PK, KeyType::Hash))
            .key_schema(key(SK, KeyType::Range))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(GSI1)
                    .key_schema(key(GSI1PK, KeyType::Hash))
                    .key_schema(key(GSI1SK, KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()?,
            )
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()?,
            )
            .send()
            .await?;
        dynamodb
            .update_time_to_live()
            .table_name(TABLE_NAME)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(EXPIRES_AT)
                    .build()?,
            )
            .send()
            .await?;
    }

    let kms = aws_sdk_kms::Client::new(config);
    let aliases = kms.list_aliases().send().await?;
    let has = |name: &str| {
        aliases
            .aliases()
            .iter()
            .any(|a| a.alias_name() == Some(name))
    };
    if !has(NUMBER_KEY_ALIAS) {
        let key = kms
            .create_key()
            .description("Rappel local: number envelope key")
            .send()
            .await?;
        let id = key
            .key_metadata()
            .map(|m| m.key_id().to_string())
            .ok_or("CreateKey returned no key")?;
        kms.create_alias()
            .alias_name(NUMBER_KEY_ALIAS)
            .target_key_id(id)
            .send()
            .await?;
    }
    if !has(HASH_KEY_ALIAS) {
        let key = kms
            .create_key()
            .description("Rappel local: caller hash key")
            .key_spec(KeySpec::Hmac256)
            .key_usage(KeyUsageType::GenerateVerifyMac)
            .send()
            .await?;
        let id = key
            .key_metadata()
            .map(|m| m.key_id().to_string())
            .ok_or("CreateKey returned no key")?;
        kms.create_alias()
            .alias_name(HASH_KEY_ALIAS)
            .target_key_id(id)
            .send()
            .await?;
    }

    let events = aws_sdk_eventbridge::Client::new(config);
    if events
        .describe_event_bus()
        .name(EVENT_BUS_NAME)
        .send()
        .await
        .is_err()
    {
        events
            .create_event_bus()
            .name(EVENT_BUS_NAME)
            .send()
            .await?;
    }
    Ok(())
}
