//! The router: `/`, `/health`, `/load`, a 404 fallback, the request-body cap, and the middleware
//! that counts and logs every request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tower_http::limit::RequestBodyLimitLayer;

use crate::metadata::TaskIdentity;
use crate::page::Page;
use crate::{load, logging};

/// No route reads a body; this only bounds what a client can make us buffer or discard.
const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    version: String,
    identity: TaskIdentity,
    started: Instant,
    requests: AtomicU64,
}

impl AppState {
    pub fn new(version: String, identity: TaskIdentity) -> Self {
        Self(Arc::new(Shared {
            version,
            identity,
            started: Instant::now(),
            requests: AtomicU64::new(0),
        }))
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/load", get(burn_cpu))
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), count_and_log))
        .with_state(state)
}

/// Outermost layer, so 404s, 405s and 413s are counted and logged too.
async fn count_and_log(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    state.0.requests.fetch_add(1, Ordering::Relaxed);
    let response = next.run(request).await;
    logging::request(
        method.as_str(),
        &path,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

async fn index(State(state): State<AppState>) -> impl IntoResponse {
    let shared = &state.0;
    let page = Page {
        version: &shared.version,
        task_id: &shared.identity.task_id,
        availability_zone: &shared.identity.availability_zone,
        uptime: shared.started.elapsed(),
        requests: shared.requests.load(Ordering::Relaxed),
    };
    // Every refresh must reach a task, or the page cannot show the load balancing.
    ([(header::CACHE_CONTROL, "no-store")], Html(page.render()))
}

async fn health() -> &'static str {
    "ok"
}

#[derive(Deserialize)]
struct LoadQuery {
    ms: Option<String>,
}

async fn burn_cpu(Query(query): Query<LoadQuery>) -> Response {
    let duration = match load::parse_ms(query.ms.as_deref()) {
        Ok(duration) => duration,
        Err(bad) => return (StatusCode::BAD_REQUEST, format!("{bad}\n")).into_response(),
    };
    // On the blocking pool: a busy loop on a runtime worker would stall every other request.
    match tokio::task::spawn_blocking(move || load::burn(duration)).await {
        Ok(()) => format!("busy-looped for {} ms\n", duration.as_millis()).into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("burn failed: {err}\n"),
        )
            .into_response(),
    }
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}
