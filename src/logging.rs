//! Logging to stderr in the hclog JSON line format go-plugin parses, so Terraform's own
//! `TF_LOG` / `TF_LOG_PROVIDER` show our lines with their level intact. Stdout is never touched:
//! it belongs to the handshake line.
//!
//! One line per event: `{"@level":"debug","@message":"...","@module":"provider",
//! "@timestamp":"2026-11-23T18:00:00.000000Z", ...event fields}`.

use std::io::Write;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::Layer;

/// The `@module` of every line; go-plugin names the host-side logger after it.
pub const MODULE: &str = "provider";

/// Our own crate's events pass at the chosen level; dependencies (h2, hyper, tonic) are capped
/// at INFO so `TF_LOG=trace` stays readable.
const OWN_TARGET: &str = "terraform_provider_hostup";

/// Installs the stderr JSON logger with the level from `TF_LOG_PROVIDER`, else `TF_LOG`.
/// Does nothing if logging is off or a global subscriber is already installed. Returns the
/// level in effect.
pub fn init() -> LevelFilter {
    let level = level_from_env(
        std::env::var("TF_LOG_PROVIDER").ok().as_deref(),
        std::env::var("TF_LOG").ok().as_deref(),
    );
    if level == LevelFilter::OFF {
        return level;
    }
    let subscriber = tracing_subscriber::registry().with(layer(level, std::io::stderr));
    // A second init (tests, embedding) keeps the first subscriber; that is not an error.
    let _ = tracing::subscriber::set_global_default(subscriber);
    level
}

/// The level Terraform's variables ask for: `TF_LOG_PROVIDER` wins over `TF_LOG` when set and
/// non-empty. `trace|debug|info|warn|error` (any case) map to themselves, `json` means trace,
/// `off`/empty/unset mean nothing, and any other value means trace (as Terraform itself does).
pub fn level_from_env(tf_log_provider: Option<&str>, tf_log: Option<&str>) -> LevelFilter {
    let chosen = tf_log_provider
        .filter(|v| !v.trim().is_empty())
        .or(tf_log)
        .map(str::trim)
        .unwrap_or("");
    match chosen.to_ascii_lowercase().as_str() {
        "" | "off" => LevelFilter::OFF,
        "debug" => LevelFilter::DEBUG,
        "info" => LevelFilter::INFO,
        "warn" => LevelFilter::WARN,
        "error" => LevelFilter::ERROR,
        _ => LevelFilter::TRACE,
    }
}

/// The hclog layer with its target filter, writing through `make_writer`.
pub fn layer<S, W>(level: LevelFilter, make_writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let targets = Targets::new()
        .with_default(level.min(LevelFilter::INFO))
        .with_target(OWN_TARGET, level);
    HclogLayer { make_writer }.with_filter(targets)
}

struct HclogLayer<W> {
    make_writer: W,
}

impl<S, W> Layer<S> for HclogLayer<W>
where
    S: Subscriber,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = FieldCollector::default();
        event.record(&mut fields);
        let timestamp = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        let line = format_line(
            *event.metadata().level(),
            &fields.message,
            &timestamp,
            fields.extra,
        );
        // One write per line, so concurrent events never interleave within a line.
        let _ = self.make_writer.make_writer().write_all(line.as_bytes());
    }
}

/// One hclog JSON line, newline included. Extra fields follow the `@` keys in event order.
pub fn format_line(
    level: Level,
    message: &str,
    timestamp: &str,
    extra: serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut object = serde_json::Map::new();
    object.insert("@level".into(), hclog_level(level).into());
    object.insert("@message".into(), message.into());
    object.insert("@module".into(), MODULE.into());
    object.insert("@timestamp".into(), timestamp.into());
    for (key, value) in extra {
        // A field may not impersonate the keys go-plugin interprets.
        let key = if key.starts_with('@') {
            format!("_{key}")
        } else {
            key
        };
        object.insert(key, value);
    }
    let mut line = serde_json::Value::Object(object).to_string();
    line.push('\n');
    line
}

fn hclog_level(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

#[derive(Default)]
struct FieldCollector {
    message: String,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl FieldCollector {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
        } else {
            self.extra.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for FieldCollector {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn capture(level: LevelFilter, emit: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(layer(level, buffer.clone()));
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is one JSON object"))
            .collect()
    }

    #[test]
    fn line_has_hclog_keys_in_order() {
        let mut extra = serde_json::Map::new();
        extra.insert("vps_id".into(), 42.into());
        let line = format_line(
            Level::WARN,
            "slow job",
            "2026-11-23T18:00:00.000000Z",
            extra,
        );
        assert_eq!(
            line,
            "{\"@level\":\"warn\",\"@message\":\"slow job\",\"@module\":\"provider\",\
             \"@timestamp\":\"2026-11-23T18:00:00.000000Z\",\"vps_id\":42}\n"
        );
    }

    #[test]
    fn fields_cannot_impersonate_hclog_keys() {
        let mut extra = serde_json::Map::new();
        extra.insert("@level".into(), "error".into());
        let line = format_line(Level::DEBUG, "m", "t", extra);
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["@level"], "debug");
        assert_eq!(json["_@level"], "error");
    }

    #[test]
    fn events_become_json_lines_with_fields_and_microsecond_utc_time() {
        let lines = capture(LevelFilter::DEBUG, || {
            tracing::debug!(
                job = "r-1",
                attempts = 3_u64,
                done = false,
                "waiting for \"job\""
            );
            tracing::trace!("too verbose");
            tracing::error!(error = %"boom", "failed");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["@level"], "debug");
        assert_eq!(lines[0]["@message"], "waiting for \"job\"");
        assert_eq!(lines[0]["@module"], "provider");
        assert_eq!(lines[0]["job"], "r-1");
        assert_eq!(lines[0]["attempts"], 3);
        assert_eq!(lines[0]["done"], false);
        assert_eq!(lines[1]["@level"], "error");
        assert_eq!(lines[1]["error"], "boom");
        let ts = lines[0]["@timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), "2026-11-23T18:00:00.000000Z".len(), "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
    }

    #[test]
    fn dependency_noise_is_capped_at_info() {
        let lines = capture(LevelFilter::TRACE, || {
            tracing::trace!(target: "h2::codec", "frame");
            tracing::info!(target: "h2::codec", "notable");
            tracing::trace!("ours");
        });
        let messages: Vec<_> = lines.iter().map(|l| l["@message"].clone()).collect();
        assert_eq!(messages, vec!["notable", "ours"]);
    }

    #[test]
    fn level_follows_terraforms_variables() {
        assert_eq!(level_from_env(None, None), LevelFilter::OFF);
        assert_eq!(level_from_env(None, Some("")), LevelFilter::OFF);
        assert_eq!(level_from_env(None, Some("off")), LevelFilter::OFF);
        assert_eq!(level_from_env(None, Some("DEBUG")), LevelFilter::DEBUG);
        assert_eq!(level_from_env(None, Some("json")), LevelFilter::TRACE);
        assert_eq!(level_from_env(None, Some("loud")), LevelFilter::TRACE);
        assert_eq!(
            level_from_env(Some("warn"), Some("trace")),
            LevelFilter::WARN
        );
        assert_eq!(level_from_env(Some(""), Some("info")), LevelFilter::INFO);
        assert_eq!(level_from_env(Some("off"), Some("trace")), LevelFilter::OFF);
        assert_eq!(level_from_env(Some("error"), None), LevelFilter::ERROR);
    }
}
