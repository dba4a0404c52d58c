//! HTTP routes of the local stack: the API Gateway routes, served by the Lambdas' own handler
//! functions, and the local-only `/_local/` control routes.

use crate::metrics::PHASE;
use crate::pipeline::App;
use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use chrono::{DateTime, Utc};
use rappel::items::ts;
use rappel::ports::Clock;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Bodies above this are cut by the runner, like API Gateway's own 10 MB payload limit
/// (intake refuses anything over 64 KiB itself, with a problem document).
const MAX_RUNNER_BODY: usize = 10 * 1024 * 1024;

pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new()
        .route("/webhooks/{provider}/{account_id}", any(webhook))
        .route("/r/{token}", any(booking))
        .route("/r/{token}/opt-out", any(booking))
        .route("/o/{token}", any(booking))
        .route("/_local/sms/inbound", post(inbound_sms))
        .route(
            "/_local/health",
            get(|| async { Json(json!({"status": "ok"})) }),
        )
        .route("/_local/clock", get(get_clock).post(set_clock))
        .route("/_local/drain", post(drain))
        .route("/_local/outbox", get(outbox))
        .route("/_local/calls", get(calls))
        .route("/_local/events", get(events))
        .route("/_local/aws-calls", get(aws_calls))
        // Anything else goes where API Gateway would send it: paths under /webhooks to intake
        // and under /r and /o to booking, which answer their own 404 (problem JSON / HTML page).
        .fallback(fallback)
        .with_state(app)
}

/// Turn the HTTP request into the `lambda_http::Request` API Gateway would hand the Lambda.
async fn to_lambda(req: Request) -> Result<lambda_http::Request, Response> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_RUNNER_BODY)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response())?;
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(bytes.to_vec())
    };
    Ok(lambda_http::Request::from_parts(parts, body))
}

fn from_lambda(res: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = res.into_parts();
    let bytes: Vec<u8> = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    Response::from_parts(parts, Body::from(bytes))
}

async fn webhook(State(app): State<Arc<App>>, req: Request) -> Response {
    let req = match to_lambda(req).await {
        Ok(req) => req,
        Err(res) => return res,
    };
    // One thing at a time against moto: it rolls a cancelled transaction back by restoring a
    // copy of the whole table, which would undo a write made meanwhile by another request
    // (never on AWS). So webhooks wait for a drain in progress, and the other way round.
    let _moto = app.drain_lock.lock().await;
    let Ok(res) = PHASE
        .scope(
            "webhook-intake",
            webhook_intake::handler::handle(&app.intake, req),
        )
        .await;
    from_lambda(res)
}

async fn booking(State(app): State<Arc<App>>, req: Request) -> Response {
    let req = match to_lambda(req).await {
        Ok(req) => req,
        Err(res) => return res,
    };
    // See `webhook`: moto's transaction rollback.
    let _moto = app.drain_lock.lock().await;
    let Ok(res) = PHASE
        .scope("booking", booking::handler::handle(&app.booking, req))
        .await;
    from_lambda(res)
}

/// `POST /_local/sms/inbound`: an SMS received on a two-way short code, as AWS End User
/// Messaging SMS publishes it (`{"originationNumber", "destinationNumber", "messageBody", ...}`),
/// delivered to inbound-sms in an SNS event. Lambda's asynchronous retries are played (2 more
/// attempts); after them the answer is 502 (what the on-failure queue would keep).
async fn inbound_sms(State(app): State<Arc<App>>, Json(message): Json<Value>) -> Response {
    let event = json!({"Records": [{
        "EventSource": "aws:sns",
        "Sns": {
            "Type": "Notification",
            "MessageId": rappel::crypto::new_id("sns"),
            "TopicArn": "arn:aws:sns:eu-west-3:000000000000:rappel-inbound-sms",
            "Message": message.to_string(),
            "Timestamp": rappel::items::ts(rappel::ports::Clock::now(&app.clock)),
        }
    }]});
    let _moto = app.drain_lock.lock().await;
    let mut last = String::new();
    for _ in 0..3 {
        let invocation = lambda_runtime::LambdaEvent::new(event.clone(), Default::default());
        match PHASE
            .scope(
                "inbound-sms",
                inbound_sms::handler::handle(&app.inbound, invocation),
            )
            .await
        {
            Ok(summary) => return Json(summary).into_response(),
            Err(e) => last = e.to_string(),
        }
    }
    error(
        StatusCode::BAD_GATEWAY,
        format!("inbound-sms failed 3 times: {last}"),
    )
}

fn error(status: StatusCode, detail: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": detail.to_string()}))).into_response()
}

async fn get_clock(State(app): State<Arc<App>>) -> Response {
    Json(json!({"now": ts(app.clock.now()), "simulated": app.clock.is_simulated()})).into_response()
}

#[derive(Deserialize)]
struct SetClock {
    now: String,
}

async fn set_clock(State(app): State<Arc<App>>, Json(body): Json<SetClock>) -> Response {
    let target = match DateTime::parse_from_rfc3339(&body.now) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("now must be RFC 3339: {e}"),
            );
        }
    };
    if target < app.clock.now() {
        return error(
            StatusCode::CONFLICT,
            format!(
                "the clock never goes backwards (now {})",
                ts(app.clock.now())
            ),
        );
    }
    match app.advance(target).await {
        Ok(report) => Json(json!({"now": ts(app.clock.now()), "drained": report})).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn drain(State(app): State<Arc<App>>) -> Response {
    match app.drain().await {
        Ok(report) => Json(report).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn outbox(State(app): State<Arc<App>>) -> Response {
    Json(app.records.outbox()).into_response()
}

async fn events(State(app): State<Arc<App>>) -> Response {
    Json(app.records.events()).into_response()
}

async fn calls(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(account_id) = query.get("account_id") else {
        return error(StatusCode::BAD_REQUEST, "account_id is required");
    };
    match app.table.calls(account_id).await {
        Ok(calls) => Json(
            calls
                .into_iter()
                .map(|c| {
                    json!({
                        "provider": c.provider,
                        "call_id": c.call_id,
                        "direction": c.direction,
                        "status": c.status,
                        "caller": c.caller_masked.unwrap_or(c.caller),
                        "received_at": c.received_at,
                        "outcome": c.outcome,
                        "reason": c.reason,
                        "message_id": c.message_id,
                        "due_at": c.due_at,
                        "sent_at": c.sent_at,
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// AWS calls the handlers made since start, per function, service and operation.
async fn aws_calls(State(app): State<Arc<App>>) -> Response {
    Json(app.calls.snapshot()).into_response()
}

async fn fallback(State(app): State<Arc<App>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/webhooks/") || path == "/webhooks" {
        webhook(State(app), req).await
    } else if path.starts_with("/r/") || path.starts_with("/o/") {
        booking(State(app), req).await
    } else {
        error(StatusCode::NOT_FOUND, format!("no route for {path}"))
    }
}
