#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    eligibility::serve().await
}
