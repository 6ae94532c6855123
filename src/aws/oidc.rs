//! The GitHub OIDC token: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with the runner's bearer
//! token, answered by `{"value": JWT}`. Transient failures are retried; the JWT is masked before
//! anything else sees it.

use std::time::Duration;

use serde::Deserialize;

use super::error::{AwsError, CredentialSource, Problem};
use super::settings::OidcRequest;
use crate::backoff::{Backoff, EQUAL_JITTER};
use crate::runner;
use crate::secret::Secret;

const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(300);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Deserialize)]
struct TokenResponse {
    value: String,
}

/// Why one attempt failed, and whether another may succeed.
struct AttemptError {
    detail: String,
    transient: bool,
}

/// Asks the runner for an OIDC token for `audience`.
pub async fn fetch_id_token(request: &OidcRequest, audience: &str) -> Result<Secret, AwsError> {
    let fail = |detail: String| {
        AwsError::new(Problem::OidcRequestFailed, CredentialSource::Oidc).detail(detail)
    };
    let mut url = url::Url::parse(&request.url)
        .map_err(|e| fail(format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}")))?;
    url.query_pairs_mut().append_pair("audience", audience);

    let client = crate::net::http_client_builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| fail(format!("building the HTTP client: {e}")))?;

    let mut backoff = Backoff::new(FIRST_BACKOFF, Duration::from_secs(30), 2.0, EQUAL_JITTER);
    let mut attempt = 1;
    loop {
        match fetch_once(&client, url.clone(), &request.bearer).await {
            Ok(token) => {
                runner::add_mask(token.expose());
                return Ok(token);
            }
            Err(e) if e.transient && attempt < ATTEMPTS => {
                let delay = backoff.next_delay();
                runner::info(&format!(
                    "GitHub OIDC token request failed ({}); retrying in {:.1} s",
                    e.detail,
                    delay.as_secs_f64()
                ));
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(fail(format!("{} after {attempt} attempt(s)", e.detail))),
        }
    }
}

async fn fetch_once(
    client: &reqwest::Client,
    url: url::Url,
    bearer: &Secret,
) -> Result<Secret, AttemptError> {
    let response = client
        .get(url)
        .bearer_auth(bearer.expose())
        .header(reqwest::header::ACCEPT, "application/json; api-version=2.0")
        .send()
        .await
        // Without the URL: it is the runner's, and errors should stay short.
        .map_err(|e| AttemptError {
            detail: e.without_url().to_string(),
            transient: true,
        })?;
    let status = response.status();
    if !status.is_success() {
        let transient = crate::backoff::is_transient_status(status.as_u16());
        return Err(AttemptError {
            detail: format!("HTTP {status}"),
            transient,
        });
    }
    let body = response.bytes().await.map_err(|e| AttemptError {
        detail: e.without_url().to_string(),
        transient: true,
    })?;
    // The body is never quoted in an error: it may hold a token.
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| AttemptError {
        detail: "the answer was not JSON with a \"value\" string".to_string(),
        transient: false,
    })?;
    let value = parsed.value.trim();
    if value.is_empty() {
        return Err(AttemptError {
            detail: "the token was empty".to_string(),
            transient: false,
        });
    }
    Ok(Secret::new(value))
}
