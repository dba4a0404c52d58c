//! SNS (SMS) and EventBridge adapters.

use super::{port_error, sdk_error};
use crate::account::Originator;
use crate::phone::E164;
use crate::ports::{EVENT_SOURCE, EventPublisher, PortError, SmsGateway};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sns::types::MessageAttributeValue;

/// SMS through Amazon SNS `Publish` to a phone number.
#[derive(Debug, Clone)]
pub struct Sns {
    client: aws_sdk_sns::Client,
}

impl Sns {
    pub fn new(client: aws_sdk_sns::Client) -> Sns {
        Sns { client }
    }

    /// Open the connection to SNS at cold start ([`super::warm_up`]): `GetSMSAttributes`
    /// (`sns:GetSMSAttributes`), which reads the account's default SMS type and nothing
    /// personal.
    pub async fn warm_up(&self) -> Result<(), PortError> {
        self.client
            .get_sms_attributes()
            .attributes("DefaultSMSType")
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error("sns", e))
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, PortError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| port_error("sns", e))
}

impl SmsGateway for Sns {
    /// `CheckIfPhoneNumberIsOptedOut`: the carrier-level STOP list.
    async fn is_opted_out(&self, to: &E164) -> Result<bool, PortError> {
        let out = self
            .client
            .check_if_phone_number_is_opted_out()
            .phone_number(to.expose())
            .send()
            .await
            .map_err(|e| sdk_error("sns", e))?;
        Ok(out.is_opted_out())
    }

    /// `Publish` with `AWS.SNS.SMS.SenderID` (or `AWS.MM.SMS.OriginationNumber` for a short
    /// code) and `AWS.SNS.SMS.SMSType` = `Transactional` (SNS developer guide, "Publishing to
    /// a mobile phone"; "SMS message attributes"), **without the SDK's retries**:
    /// a retry after an answer lost in transit would send a second SMS. The error says
    /// whether the SMS may have left ([`crate::ports::Applied`]); the caller decides.
    async fn publish(&self, to: &E164, from: &Originator, body: &str) -> Result<String, PortError> {
        let (attribute, value) = match from {
            Originator::SenderId(id) => ("AWS.SNS.SMS.SenderID", id),
            Originator::ShortCode(code) => ("AWS.MM.SMS.OriginationNumber", code),
        };
        let out = self
            .client
            .publish()
            .phone_number(to.expose())
            .message(body)
            .message_attributes(attribute, string_attribute(value)?)
            .message_attributes("AWS.SNS.SMS.SMSType", string_attribute("Transactional")?)
            .customize()
            .config_override(
                aws_sdk_sns::config::Builder::default()
                    .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| sdk_error("sns", e))?;
        out.message_id()
            .map(str::to_string)
            // SNS answered success: the SMS has probably left.
            .ok_or_else(|| {
                PortError::new("sns", "Publish returned no message id")
                    .applied(crate::ports::Applied::Maybe)
            })
    }
}

/// The Rappel event bus.
#[derive(Debug, Clone)]
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> EventBus {
        EventBus {
            client,
            bus_name: bus_name.into(),
        }
    }

    /// Open the connection to EventBridge at cold start ([`super::warm_up`]):
    /// `DescribeEventBus` on Rappel's bus (`events:DescribeEventBus`).
    pub async fn warm_up(&self) -> Result<(), PortError> {
        self.client
            .describe_event_bus()
            .name(&self.bus_name)
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error("eventbridge", e))
    }
}

impl EventPublisher for EventBus {
    /// `PutEvents` with source `rappel`. A failed entry is an error (so the caller's Lambda
    /// retries), not a silent drop.
    async fn put(&self, detail_type: &str, detail: serde_json::Value) -> Result<(), PortError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(EVENT_SOURCE)
            .detail_type(detail_type)
            .detail(detail.to_string())
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| sdk_error("eventbridge", e))?;
        if out.failed_entry_count() > 0 {
            let code = out
                .entries()
                .iter()
                .find_map(|e| e.error_code())
                .unwrap_or("unknown");
            return Err(PortError::new(
                "eventbridge",
                format!("PutEvents entry failed: {code}"),
            ));
        }
        Ok(())
    }
}
