//! Publishes a Code Insights report ([`crate::report::bitbucket::Insights`]) to Bitbucket
//! Server / Data Center through its REST API (`/rest/insights/1.0`):
//!
//! 1. `PUT  .../commits/{sha}/reports/{key}` with the report (creates or replaces it);
//! 2. `DELETE .../commits/{sha}/reports/{key}/annotations` (the previous run's annotations);
//! 3. `POST .../commits/{sha}/reports/{key}/annotations` with `{"annotations": [...]}`, in
//!    batches of [`BATCH`].
//!
//! Every request carries `Authorization: Bearer <token>` (a Bitbucket HTTP access token); the
//! token never appears in an error message. Each request has a timeout, and a 5xx answer or a
//! failed connection is retried (with a growing pause) up to [`ATTEMPTS`] times; any other
//! non-2xx answer stops the run with one line that names the request, the status, Bitbucket's
//! own message and, for 401/403/404, what to check.

use std::time::Duration;

use crate::report::bitbucket::{Annotation, Insights, MAX_ANNOTATIONS};

/// Annotations per POST: small enough for any proxy's body limit, and what Bitbucket Cloud
/// allows too.
pub const BATCH: usize = 100;
/// Tries per request when the server answers 5xx or cannot be reached.
pub const ATTEMPTS: u32 = 3;

/// Which commit of which repository on which server.
#[derive(Clone, Debug)]
pub struct Target {
    /// Base URL of Bitbucket (`https://bitbucket.example.com`, or with a context path).
    pub server: String,
    pub project: String,
    pub repo: String,
    pub commit: String,
}

/// How to talk to the server.
#[derive(Clone, Debug)]
pub struct Options {
    /// Deadline of one request (connect, send, answer).
    pub timeout: Duration,
    /// Pause before the first retry; doubled for each further one.
    pub retry_pause: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options { timeout: Duration::from_secs(30), retry_pause: Duration::from_millis(500) }
    }
}

/// What was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub annotations: usize,
    pub requests: usize,
    pub retries: usize,
}

/// One HTTP request failed for good.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Invalid(String),
    #[error("{method} {url}: HTTP {status}{detail}{hint}")]
    Status { method: &'static str, url: String, status: u16, detail: String, hint: &'static str },
    #[error("{method} {url}: {error}")]
    Transport { method: &'static str, url: String, error: String },
}

/// Sends `insights` for `target`, authenticating with `token`.
pub fn publish(insights: &Insights, target: &Target, token: &str, opts: &Options) -> Result<Published, PublishError> {
    check(insights, target)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .http_status_as_error(false)
        .user_agent(concat!("fluxgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let client = Client { agent, token, opts };
    let report_url = report_url(target, &insights.key);
    let annotations_url = format!("{report_url}/annotations");
    let mut published = Published { annotations: 0, requests: 0, retries: 0 };
    let body = serde_json::to_vec(&insights.report).map_err(|e| PublishError::Invalid(e.to_string()))?;
    client.send("PUT", &report_url, Some(&body), &mut published)?;
    client.send("DELETE", &annotations_url, None, &mut published)?;
    for batch in insights.annotations.chunks(BATCH) {
        let body =
            serde_json::to_vec(&Batch { annotations: batch }).map_err(|e| PublishError::Invalid(e.to_string()))?;
        client.send("POST", &annotations_url, Some(&body), &mut published)?;
        published.annotations += batch.len();
    }
    Ok(published)
}

#[derive(serde::Serialize)]
struct Batch<'a> {
    annotations: &'a [Annotation],
}

fn check(insights: &Insights, target: &Target) -> Result<(), PublishError> {
    if !(target.server.starts_with("https://") || target.server.starts_with("http://")) {
        return Err(PublishError::Invalid(format!("--server {}: expected an http:// or https:// URL", target.server)));
    }
    for (what, v) in [("--project", &target.project), ("--repo", &target.repo), ("--commit", &target.commit)] {
        if v.is_empty() {
            return Err(PublishError::Invalid(format!("{what} is empty")));
        }
    }
    if insights.annotations.len() > MAX_ANNOTATIONS {
        return Err(PublishError::Invalid(format!(
            "the report holds {} annotations; Bitbucket accepts at most {MAX_ANNOTATIONS} (write it with `fluxgate validate --bitbucket-insights`)",
            insights.annotations.len()
        )));
    }
    Ok(())
}

/// `<server>/rest/insights/1.0/projects/<key>/repos/<slug>/commits/<sha>/reports/<report key>`.
pub fn report_url(t: &Target, key: &str) -> String {
    format!(
        "{}/rest/insights/1.0/projects/{}/repos/{}/commits/{}/reports/{}",
        t.server.trim_end_matches('/'),
        segment(&t.project),
        segment(&t.repo),
        segment(&t.commit),
        segment(key)
    )
}

/// Percent-encodes one path segment (everything but unreserved characters).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Client<'a> {
    agent: ureq::Agent,
    token: &'a str,
    opts: &'a Options,
}

impl Client<'_> {
    /// Sends one request, retrying 5xx answers and failed connections.
    fn send(
        &self,
        method: &'static str,
        url: &str,
        body: Option<&[u8]>,
        published: &mut Published,
    ) -> Result<(), PublishError> {
        let mut pause = self.opts.retry_pause;
        let mut attempt = 1;
        loop {
            published.requests += 1;
            let last = attempt >= ATTEMPTS;
            match self.once(method, url, body) {
                Ok((status, _)) if (200..300).contains(&status) => return Ok(()),
                Ok((status, text)) if status < 500 || last => {
                    return Err(PublishError::Status {
                        method,
                        url: url.to_string(),
                        status,
                        detail: server_message(&text),
                        hint: hint(status),
                    });
                }
                Err(e) if last => return Err(PublishError::Transport { method, url: url.to_string(), error: e }),
                _ => {}
            }
            published.retries += 1;
            std::thread::sleep(pause);
            pause *= 2;
            attempt += 1;
        }
    }

    fn once(&self, method: &str, url: &str, body: Option<&[u8]>) -> Result<(u16, String), String> {
        let auth = format!("Bearer {}", self.token);
        let result = match (method, body) {
            ("PUT", Some(b)) => self
                .agent
                .put(url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .send(b),
            ("POST", Some(b)) => self
                .agent
                .post(url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .send(b),
            _ => self.agent.delete(url).header("Authorization", &auth).header("Accept", "application/json").call(),
        };
        let mut resp = result.map_err(|e| e.to_string().replace(self.token, "***"))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
        Ok((status, text))
    }
}

/// Bitbucket's own error text (`{"errors":[{"message": ...}]}`), on one line.
fn server_message(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| {
        let msgs: Vec<String> =
            v["errors"].as_array()?.iter().filter_map(|e| e["message"].as_str().map(str::to_string)).collect();
        (!msgs.is_empty()).then(|| msgs.join("; "))
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        String::new()
    } else {
        format!(": {}", crate::report::bitbucket::truncate(&one_line, 300))
    }
}

fn hint(status: u16) -> &'static str {
    match status {
        401 => " (the token was not accepted: check the token variable holds a valid HTTP access token)",
        403 => " (the token's user may not write this repository's reports: it needs repository read permission)",
        404 => " (check --server, --project, --repo and --commit: the commit must be pushed to that repository)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            server: "https://bb.example.com/ctx/".into(),
            project: "PLAT".into(),
            repo: "flux gsf".into(),
            commit: "abc123".into(),
        }
    }

    #[test]
    fn urls_are_built_from_encoded_segments() {
        assert_eq!(
            report_url(&target(), "fluxgate"),
            "https://bb.example.com/ctx/rest/insights/1.0/projects/PLAT/repos/flux%20gsf/commits/abc123/reports/fluxgate"
        );
    }

    #[test]
    fn server_messages_are_one_line_and_hints_name_what_to_check() {
        assert_eq!(server_message(r#"{"errors":[{"message":"Bad\nthing"},{"message":"two"}]}"#), ": Bad thing; two");
        assert_eq!(server_message("<html>\n<b>oops</b>\n</html>"), ": <html> <b>oops</b> </html>");
        assert_eq!(server_message(""), "");
        assert!(hint(401).contains("token"));
        assert!(hint(404).contains("--commit"));
        assert_eq!(hint(400), "");
    }

    #[test]
    fn bad_targets_are_refused_before_any_request() {
        let ins = Insights {
            key: "fluxgate".into(),
            report: crate::report::bitbucket::InsightReport {
                title: "t".into(),
                details: String::new(),
                result: "PASS".into(),
                reporter: "r".into(),
                link: None,
                data: vec![],
            },
            annotations: vec![],
        };
        let mut t = target();
        t.server = "ftp://x".into();
        let e = publish(&ins, &t, "secret", &Options::default()).unwrap_err();
        assert!(e.to_string().contains("--server"));
        let mut t = target();
        t.commit.clear();
        assert!(publish(&ins, &t, "secret", &Options::default()).unwrap_err().to_string().contains("--commit"));
    }
}
