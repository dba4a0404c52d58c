//! Create the resources `template.yaml` declares, for the local stack and the adapter tests
//! (moto). On AWS, CloudFormation does this; this module is never called there.

use crate::items::{EXPIRES_AT, GSI1, GSI1PK, GSI1SK, PK, SK};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_types::SdkConfig;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Names of the resources to create.
#[derive(Debug, Clone)]
pub struct Names {
    pub table: String,
    pub number_key_alias: String,
    pub secrets_key_alias: String,
    pub hash_key_alias: String,
    pub event_bus: String,
}

/// Create the table (keys, GSI1, TTL, NEW_IMAGE stream), the number and secrets keys
/// (symmetric), the hash key (HMAC_256) with their aliases, and the event bus; what exists already is kept.
pub async fn provision(config: &SdkConfig, names: &Names) -> Result<(), BoxError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let exists = dynamodb
        .describe_table()
        .table_name(names.table.as_str())
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
            .table_name(names.table.as_str())
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
            .table_name(names.table.as_str())
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
    let keys = [
        (
            &names.number_key_alias,
            "Rappel local: number envelope key",
            None,
        ),
        (
            &names.secrets_key_alias,
            "Rappel local: webhook secrets key",
            None,
        ),
        (
            &names.hash_key_alias,
            "Rappel local: caller hash key",
            Some((KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac)),
        ),
    ];
    for (alias, description, hmac) in keys {
        if aliases
            .aliases()
            .iter()
            .any(|a| a.alias_name() == Some(alias.as_str()))
        {
            continue;
        }
        let symmetric = hmac.is_none();
        let mut create = kms.create_key().description(description);
        if let Some((spec, usage)) = hmac {
            create = create.key_spec(spec).key_usage(usage);
        }
        let key = create.send().await?;
        let id = key
            .key_metadata()
            .map(|m| m.key_id().to_string())
            .ok_or("CreateKey returned no key")?;
        kms.create_alias()
            .alias_name(alias.as_str())
            .target_key_id(&id)
            .send()
            .await?;
        // As template.yaml: yearly automatic rotation of the symmetric keys (HMAC keys cannot
        // rotate; their hashes must stay stable for opt-out tombstones).
        if symmetric {
            kms.enable_key_rotation().key_id(&id).send().await?;
        }
    }

    let events = aws_sdk_eventbridge::Client::new(config);
    if events
        .describe_event_bus()
        .name(names.event_bus.as_str())
        .send()
        .await
        .is_err()
    {
        events
            .create_event_bus()
            .name(names.event_bus.as_str())
            .send()
            .await?;
    }
    Ok(())
}
