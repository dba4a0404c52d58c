#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sender::serve().await
}
