//! The `provider "hostup"` block: its schema and how its settings are resolved from configuration
//! and environment. Configuration wins over the environment; a missing key is an error that names
//! both places a user can put it.

use crate::framework::{Attribute, AttributePath, Block, Diagnostic, Diagnostics, Schema, Value};

/// Where the provider sends requests when neither the block nor `HOSTUP_ENDPOINT` says.
pub const DEFAULT_ENDPOINT: &str = "https://cloud.hostup.se";
/// The environment variable the API key falls back to.
pub const ENV_API_KEY: &str = "HOSTUP_API_KEY";
/// The environment variable the endpoint falls back to.
pub const ENV_ENDPOINT: &str = "HOSTUP_ENDPOINT";

/// The provider block's schema.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description(
                "The HostUp provider manages restores and backups of HostUp VPSes through the \
                 HostUp API v2.",
            )
            .attribute(
                Attribute::string("api_key")
                    .optional()
                    .sensitive()
                    .description(format!(
                        "HostUp API key, sent as a Bearer token. Needs the scopes `read:vm` and \
                 `backup:vm`. Falls back to the `{ENV_API_KEY}` environment variable."
                    )),
            )
            .attribute(
                Attribute::string("endpoint")
                    .optional()
                    .description(format!(
                        "Base URL of the HostUp API, without `/api/v2`. Falls back to the \
                 `{ENV_ENDPOINT}` environment variable, then to `{DEFAULT_ENDPOINT}`. Must use \
                 `https` unless the host is a loopback address (as for `hostup-sim`)."
                    )),
            ),
    )
}

/// Settings after configuration and environment have been merged.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// The HostUp root URL, from the block, the environment or the default.
    pub endpoint: String,
    /// The API key, from the block or the environment; never printed.
    pub api_key: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// What a provider block resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Every setting is known: the client can be built now.
    Ready(Settings),
    /// Some setting is unknown until apply (for example a key read from another resource):
    /// plan-time API checks are skipped and run again at apply.
    Unknown,
}

/// Merges the provider block with the environment (`env` looks a variable up).
pub fn resolve(
    config: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, Diagnostics> {
    let attr = |name: &str| config.get(name).cloned().unwrap_or(Value::Null);
    let (key, endpoint) = (attr("api_key"), attr("endpoint"));
    if key.is_unknown() || endpoint.is_unknown() {
        return Ok(Resolved::Unknown);
    }
    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let api_key =
        non_empty(key.as_str().map(str::to_string)).or_else(|| non_empty(env(ENV_API_KEY)));
    let endpoint = non_empty(endpoint.as_str().map(str::to_string))
        .or_else(|| non_empty(env(ENV_ENDPOINT)))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    match api_key {
        Some(api_key) => Ok(Resolved::Ready(Settings {
            endpoint,
            api_key: api_key.trim().to_string(),
        })),
        None => Err(Diagnostic::error(
            "Missing HostUp API key",
            format!(
                "Set the `api_key` argument of the hostup provider block, or the {ENV_API_KEY} \
                 environment variable, to a HostUp API key with the scopes read:vm and backup:vm \
                 (create one at https://cloud.hostup.se/api-management)."
            ),
        )
        .at(AttributePath::attribute("api_key"))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn block(key: Value, endpoint: Value) -> Value {
        Value::object([("api_key", key), ("endpoint", endpoint)])
    }

    #[test]
    fn configuration_wins_over_environment() {
        let env = env_of(&[
            (ENV_API_KEY, "env-key"),
            (ENV_ENDPOINT, "http://127.0.0.1:1"),
        ]);
        let r = resolve(&block("cfg-key".into(), "http://127.0.0.1:2".into()), &env).unwrap();
        assert_eq!(
            r,
            Resolved::Ready(Settings {
                endpoint: "http://127.0.0.1:2".into(),
                api_key: "cfg-key".into()
            })
        );
    }

    #[test]
    fn environment_fills_what_configuration_leaves_null() {
        let env = env_of(&[(ENV_API_KEY, "env-key")]);
        let r = resolve(&block(Value::Null, Value::Null), &env).unwrap();
        assert_eq!(
            r,
            Resolved::Ready(Settings {
                endpoint: DEFAULT_ENDPOINT.into(),
                api_key: "env-key".into()
            })
        );
    }

    #[test]
    fn missing_key_names_the_attribute_and_the_variable() {
        let diags = resolve(&block(Value::Null, Value::Null), &env_of(&[])).unwrap_err();
        let d = diags.iter().next().unwrap();
        assert!(d.is_error());
        assert_eq!(d.attribute, Some(AttributePath::attribute("api_key")));
        assert!(
            d.detail.contains("`api_key`") && d.detail.contains(ENV_API_KEY),
            "{}",
            d.detail
        );
    }

    #[test]
    fn blank_key_counts_as_missing() {
        assert!(resolve(&block("  ".into(), Value::Null), &env_of(&[])).is_err());
    }

    #[test]
    fn unknown_settings_defer_checks() {
        let r = resolve(&block(Value::Unknown, Value::Null), &env_of(&[])).unwrap();
        assert_eq!(r, Resolved::Unknown);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let s = Settings {
            endpoint: "https://x".into(),
            api_key: "sekret-123".into(),
        };
        assert!(!format!("{s:?}").contains("sekret"));
    }
}
