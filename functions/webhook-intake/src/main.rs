#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    webhook_intake::serve().await
}
