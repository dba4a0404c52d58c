//! `booking` Lambda: its wiring is [`booking::serve`], its handler [`booking::handler`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    booking::serve().await
}
