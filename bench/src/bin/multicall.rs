//! Rappel's five functions in one binary, for `make bench` to weigh one binary per function
//! (what `template.yaml` deploys) against one shared binary: the function is named by
//! `RAPPEL_FUNCTION` (`webhook-intake`, `eligibility`, `sender`, `booking`, `inbound-sms`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    match std::env::var("RAPPEL_FUNCTION")
        .unwrap_or_default()
        .as_str()
    {
        "webhook-intake" => webhook_intake::serve().await,
        "eligibility" => eligibility::serve().await,
        "sender" => sender::serve().await,
        "booking" => booking::serve().await,
        "inbound-sms" => inbound_sms::serve().await,
        other => Err(format!("RAPPEL_FUNCTION {other:?} is not one of Rappel's functions").into()),
    }
}
