//! `inbound-sms` Lambda: its wiring is [`inbound_sms::serve`], its handler
//! [`inbound_sms::handler`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    inbound_sms::serve().await
}
