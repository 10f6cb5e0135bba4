//! The environment contract between a go-plugin host (Terraform, OpenTofu) and this plugin:
//! which variables the host sets, what they mean, and how we read them. Parsing is a pure
//! function over a map of variables, so it can be tested and fuzzed without touching the
//! process environment; it never panics, it answers with an [`EnvError`] naming the culprit.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Name of the variable carrying the magic cookie.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The cookie value Terraform and OpenTofu set; it tells us a plugin host launched us.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// The one application protocol major this provider speaks (tfplugin5).
pub const APP_PROTOCOL_VERSION: u32 = 5;

/// Comma-separated protocol majors the host supports.
pub const PROTOCOL_VERSIONS_KEY: &str = "PLUGIN_PROTOCOL_VERSIONS";
/// Lowest TCP port the host wants us to listen on.
pub const MIN_PORT_KEY: &str = "PLUGIN_MIN_PORT";
/// Highest TCP port the host wants us to listen on.
pub const MAX_PORT_KEY: &str = "PLUGIN_MAX_PORT";
/// PEM of the host's per-launch client certificate; its presence means "serve mTLS".
pub const CLIENT_CERT_KEY: &str = "PLUGIN_CLIENT_CERT";
/// Directory for a unix socket instead of TCP (custom runners only; Terraform leaves it unset).
pub const UNIX_SOCKET_DIR_KEY: &str = "PLUGIN_UNIX_SOCKET_DIR";

/// Everything the host told us through the environment, checked and typed.
#[derive(Clone, PartialEq, Eq)]
pub struct PluginEnv {
    /// Where to listen on 127.0.0.1.
    pub ports: PortRange,
    /// DER of every certificate in `PLUGIN_CLIENT_CERT`; `None` means serve plaintext.
    pub client_certs: Option<Vec<CertificateDer<'static>>>,
    /// Listen on a unix socket created in this directory instead of TCP.
    pub unix_socket_dir: Option<PathBuf>,
}

impl fmt::Debug for PluginEnv {
    // Certificates are public, but a wall of bytes helps nobody reading a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginEnv")
            .field("ports", &self.ports)
            .field(
                "client_certs",
                &self.client_certs.as_ref().map(|certs| certs.len()),
            )
            .field("unix_socket_dir", &self.unix_socket_dir)
            .finish()
    }
}

/// The TCP ports to try, inclusive. go-plugin servers read an absent bound as 0, and a range
/// starting at 0 means "any port the OS picks"; we do the same. Terraform always passes
/// 10000..=25000 (go-plugin's client defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// Lowest port; 0 lets the operating system choose.
    pub min: u16,
    /// Highest port.
    pub max: u16,
}

impl PortRange {
    /// True when the OS should pick the port (go-plugin's behaviour when the range starts at 0).
    pub fn is_any(&self) -> bool {
        self.min == 0
    }
}

/// Why the environment does not describe a launch we can serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// No cookie, or a wrong one: a person (not Terraform) most likely ran the binary.
    #[error("{MAGIC_COOKIE_KEY} is missing or wrong: this binary must be launched by Terraform or OpenTofu")]
    NotLaunchedByHost,
    /// The host does not offer protocol 5.
    #[error(
        "the plugin host offers plugin protocol version(s) {offered:?} ({PROTOCOL_VERSIONS_KEY}), \
         but this provider speaks only protocol {APP_PROTOCOL_VERSION}; use Terraform 0.12 or \
         newer, or any OpenTofu release"
    )]
    ProtocolNotOffered {
        /// The raw value of `PLUGIN_PROTOCOL_VERSIONS`.
        offered: String,
    },
    /// A port variable is not a port number, or the range is empty.
    #[error("invalid port range: {0}")]
    InvalidPorts(String),
    /// `PLUGIN_CLIENT_CERT` holds no usable PEM certificate.
    #[error("{CLIENT_CERT_KEY} does not hold a PEM certificate: {0}")]
    InvalidClientCert(String),
}

/// Reads the host's variables from `vars`. Empty values count as absent, as in go-plugin.
pub fn parse(vars: &HashMap<String, String>) -> Result<PluginEnv, EnvError> {
    let get = |key: &str| vars.get(key).map(String::as_str).filter(|v| !v.is_empty());

    if get(MAGIC_COOKIE_KEY) != Some(MAGIC_COOKIE_VALUE) {
        return Err(EnvError::NotLaunchedByHost);
    }
    check_protocol_versions(get(PROTOCOL_VERSIONS_KEY))?;
    let ports = parse_ports(get(MIN_PORT_KEY), get(MAX_PORT_KEY))?;
    let client_certs = get(CLIENT_CERT_KEY).map(parse_client_certs).transpose()?;
    let unix_socket_dir = get(UNIX_SOCKET_DIR_KEY).map(PathBuf::from);
    Ok(PluginEnv {
        ports,
        client_certs,
        unix_socket_dir,
    })
}

/// True when `vars` carries Terraform's magic cookie.
pub fn has_magic_cookie(vars: &HashMap<String, String>) -> bool {
    vars.get(MAGIC_COOKIE_KEY).map(String::as_str) == Some(MAGIC_COOKIE_VALUE)
}

/// A host that sends no list is a legacy go-plugin client that expects the plugin's own
/// version, which go-plugin servers then announce; we do the same and announce 5.
fn check_protocol_versions(raw: Option<&str>) -> Result<(), EnvError> {
    let Some(raw) = raw else { return Ok(()) };
    let offers_ours = raw
        .split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .any(|v| v == APP_PROTOCOL_VERSION);
    if offers_ours {
        Ok(())
    } else {
        Err(EnvError::ProtocolNotOffered {
            offered: raw.to_owned(),
        })
    }
}

fn parse_ports(min: Option<&str>, max: Option<&str>) -> Result<PortRange, EnvError> {
    let port = |key: &str, raw: Option<&str>| -> Result<u16, EnvError> {
        match raw {
            None => Ok(0),
            Some(raw) => raw.trim().parse::<u16>().map_err(|_| {
                EnvError::InvalidPorts(format!("{key}={raw:?} is not a port number (0-65535)"))
            }),
        }
    };
    let min = port(MIN_PORT_KEY, min)?;
    let max = port(MAX_PORT_KEY, max)?;
    if min > max {
        return Err(EnvError::InvalidPorts(format!(
            "{MIN_PORT_KEY}={min} is greater than {MAX_PORT_KEY}={max}"
        )));
    }
    Ok(PortRange { min, max })
}

fn parse_client_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, EnvError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| EnvError::InvalidClientCert(e.to_string()))?;
    if certs.is_empty() {
        return Err(EnvError::InvalidClientCert(
            "no CERTIFICATE block found".to_owned(),
        ));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry(MAGIC_COOKIE_KEY.to_owned())
            .or_insert_with(|| MAGIC_COOKIE_VALUE.to_owned());
        map
    }

    fn test_cert_pem() -> String {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn terraform_launch_parses() {
        let pem = test_cert_pem();
        let env = parse(&vars(&[
            (PROTOCOL_VERSIONS_KEY, "5,6"),
            (MIN_PORT_KEY, "10000"),
            (MAX_PORT_KEY, "25000"),
            (CLIENT_CERT_KEY, &pem),
        ]))
        .unwrap();
        assert_eq!(
            env.ports,
            PortRange {
                min: 10000,
                max: 25000
            }
        );
        assert_eq!(env.client_certs.as_ref().map(Vec::len), Some(1));
        assert_eq!(env.unix_socket_dir, None);
    }

    #[test]
    fn missing_or_wrong_cookie_is_refused() {
        let mut v = vars(&[]);
        v.remove(MAGIC_COOKIE_KEY);
        assert_eq!(parse(&v), Err(EnvError::NotLaunchedByHost));
        v.insert(MAGIC_COOKIE_KEY.into(), "nope".into());
        assert_eq!(parse(&v), Err(EnvError::NotLaunchedByHost));
        assert!(!has_magic_cookie(&v));
    }

    #[test]
    fn protocol_6_only_names_what_was_offered() {
        let err = parse(&vars(&[(PROTOCOL_VERSIONS_KEY, "6")])).unwrap_err();
        assert_eq!(
            err,
            EnvError::ProtocolNotOffered {
                offered: "6".into()
            }
        );
        let text = err.to_string();
        assert!(text.contains("[\"6\"]") || text.contains("\"6\""), "{text}");
        assert!(text.contains("only protocol 5"), "{text}");
    }

    #[test]
    fn protocol_list_tolerates_spaces_and_junk_entries() {
        assert!(parse(&vars(&[(PROTOCOL_VERSIONS_KEY, "x, 5 ,6")])).is_ok());
        assert!(parse(&vars(&[(PROTOCOL_VERSIONS_KEY, "")])).is_ok());
        assert!(parse(&vars(&[(PROTOCOL_VERSIONS_KEY, "4,55")])).is_err());
    }

    #[test]
    fn absent_ports_let_the_os_choose() {
        let env = parse(&vars(&[])).unwrap();
        assert!(env.ports.is_any());
    }

    #[test]
    fn bad_ports_are_errors_naming_the_variable() {
        let err = parse(&vars(&[(MIN_PORT_KEY, "ten")])).unwrap_err();
        assert!(err.to_string().contains(MIN_PORT_KEY), "{err}");
        let err = parse(&vars(&[(MAX_PORT_KEY, "70000")])).unwrap_err();
        assert!(err.to_string().contains(MAX_PORT_KEY), "{err}");
        let err = parse(&vars(&[(MIN_PORT_KEY, "20000"), (MAX_PORT_KEY, "10000")])).unwrap_err();
        assert!(matches!(err, EnvError::InvalidPorts(_)), "{err}");
    }

    #[test]
    fn garbage_client_cert_is_an_error() {
        let err = parse(&vars(&[(CLIENT_CERT_KEY, "hello")])).unwrap_err();
        assert!(matches!(err, EnvError::InvalidClientCert(_)), "{err}");
        let err = parse(&vars(&[(
            CLIENT_CERT_KEY,
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        )]))
        .unwrap_err();
        assert!(matches!(err, EnvError::InvalidClientCert(_)), "{err}");
    }

    #[test]
    fn unix_socket_dir_is_taken_verbatim() {
        let env = parse(&vars(&[(UNIX_SOCKET_DIR_KEY, "/run/plugins")])).unwrap();
        assert_eq!(env.unix_socket_dir, Some(PathBuf::from("/run/plugins")));
    }
}
