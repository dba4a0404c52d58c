//! Where a request goes: the routes on trailing path segments, and the cross-site check.

use lambda_http::Request;
use lambda_http::http::Method;
use rappel::account::TOKEN_LEN;

// ------------------------------------------------------------------------------- routing

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET` (or `HEAD`) `/r/{token}`.
    Page(String),
    /// `POST /r/{token}`.
    Book(String),
    /// `POST /r/{token}/opt-out`.
    OptOut(String),
    /// `POST /r/{token}/reschedule`: move the booking to another slot.
    Reschedule(String),
    /// `POST /r/{token}/cancel`: cancel the booking.
    Cancel(String),
    /// `GET` (or `HEAD`) `/o/{token}`: the SMS's opt-out link, asking for confirmation.
    OptOutPage(String),
    /// `POST /o/{token}`: the confirmed opt-out.
    OptOutConfirm(String),
    /// A known path with another method; the value is the `Allow` header.
    MethodNotAllowed(&'static str),
    NotFound,
}

/// Route on the trailing segments of `path`, so a stage or custom-domain base path in front
/// of `/r/...` does not matter. A token that is not 22 base64url characters is
/// [`Route::NotFound`] (no table read for garbage).
pub fn route(method: &Method, path: &str) -> Route {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let (token, opt_out) = match segments.as_slice() {
        [.., "r", token, "opt-out"] => (*token, true),
        [.., "r", token, action @ ("reschedule" | "cancel")] if is_token(token) => {
            let token = token.to_string();
            return match (post, *action) {
                (true, "reschedule") => Route::Reschedule(token),
                (true, _) => Route::Cancel(token),
                _ => Route::MethodNotAllowed("POST"),
            };
        }
        [.., "r", token] => (*token, false),
        [.., "o", token] if is_token(token) => {
            let token = token.to_string();
            return match (get, post) {
                (true, _) => Route::OptOutPage(token),
                (_, true) => Route::OptOutConfirm(token),
                _ => Route::MethodNotAllowed("GET, HEAD, POST"),
            };
        }
        _ => return Route::NotFound,
    };
    if !is_token(token) {
        return Route::NotFound;
    }
    let token = token.to_string();
    match (opt_out, get, post) {
        (false, true, _) => Route::Page(token),
        (false, _, true) => Route::Book(token),
        (true, _, true) => Route::OptOut(token),
        (false, _, _) => Route::MethodNotAllowed("GET, HEAD, POST"),
        (true, _, _) => Route::MethodNotAllowed("POST"),
    }
}

/// Whether `token` has the shape of a booking token: [`TOKEN_LEN`] base64url characters.
pub fn is_token(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a form post comes from another site (CSRF): the browser says so in
/// `Sec-Fetch-Site: cross-site` (Fetch Metadata, sent by every current browser, including on
/// top-level form posts). `Origin` cannot be used: the pages' `Referrer-Policy: no-referrer`
/// makes browsers send `Origin: null` on our own forms, and behind CloudFront the API sees its
/// own host, not the page's. A client that sends no such header (curl) is not a browser being
/// abused.
pub fn is_cross_site(req: &Request) -> bool {
    req.headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}
