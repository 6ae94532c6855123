//! The task id and AZ come from `$ECS_CONTAINER_METADATA_URI_V4/task`, here a fake endpoint on
//! 127.0.0.1 that answers every request with one canned response.

mod common;

use common::{Server, client};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const TASK_DOCUMENT: &str = r#"{
  "Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/demo",
  "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/demo/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
  "Family": "webapp",
  "AvailabilityZone": "us-east-1b<script>",
  "LaunchType": "FARGATE"
}"#;

/// Serves `status` and `body` to every connection; returns the base URL and the request lines seen.
async fn fake_metadata(
    status: &'static str,
    body: &'static str,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v4/0123-task", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&request);
            record
                .lock()
                .unwrap()
                .push(head.lines().next().unwrap_or_default().to_owned());
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    (base, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_shows_the_task_id_and_az_from_the_metadata_endpoint() {
    let (base, seen) = fake_metadata("200 OK", TASK_DOCUMENT).await;
    let server = Server::start(&[("ECS_CONTAINER_METADATA_URI_V4", &base)]);
    assert_eq!(*seen.lock().unwrap(), ["GET /v4/0123-task/task HTTP/1.1"]);
    assert_eq!(
        server.listening["task_id"],
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    );

    let html = client()
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<dd id="task">0f1e2d3c4b5a69788796a5b4c3d2e1f0</dd>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<dd id="az">us-east-1b&lt;script&gt;</dd>"#),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");

    // Read once at start-up, not per request.
    client().get(server.url("/")).send().await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_then_shown_as_unknown() {
    let (base, seen) = fake_metadata("500 Internal Server Error", "{}").await;
    let server = Server::start(&[("ECS_CONTAINER_METADATA_URI_V4", &base)]);
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(server.listening["task_id"], "unknown");
    let warning = server
        .startup_logs
        .iter()
        .find(|line| line["msg"] == "task metadata unavailable");
    let warning = warning.expect("a warning before `listening`");
    assert_eq!(warning["level"], "warn");
    assert_eq!(warning["attempts"], 3);
    assert!(
        warning["error"].as_str().unwrap().contains("500"),
        "{warning}"
    );
    let html = client()
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<dd id="az">unknown</dd>"#), "{html}");
}

#[tokio::test]
async fn an_unreachable_endpoint_still_serves_as_unknown() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/v4/gone");
    let server = Server::start(&[("ECS_CONTAINER_METADATA_URI_V4", &base)]);
    assert_eq!(server.listening["availability_zone"], "unknown");
    let response = client().get(server.url("/health")).send().await.unwrap();
    assert!(response.status().is_success());
}
