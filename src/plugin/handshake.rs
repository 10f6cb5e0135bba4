//! What the plugin tells its host on stdout: the go-plugin handshake line in normal mode, and the
//! `TF_REATTACH_PROVIDERS` value a developer pastes into a shell in debug mode.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;

use super::env::APP_PROTOCOL_VERSION;

/// go-plugin's core protocol version; hosts refuse anything else.
pub const CORE_PROTOCOL_VERSION: u32 = 1;

/// Where the server listens, as the host must dial it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// `127.0.0.1:PORT`.
    Tcp(std::net::SocketAddr),
    /// Absolute path of a unix socket.
    Unix(std::path::PathBuf),
}

impl ListenAddr {
    /// The go-plugin network name.
    pub fn network(&self) -> &'static str {
        match self {
            ListenAddr::Tcp(_) => "tcp",
            ListenAddr::Unix(_) => "unix",
        }
    }

    /// The address string as the host dials it.
    pub fn address(&self) -> String {
        match self {
            ListenAddr::Tcp(addr) => addr.to_string(),
            ListenAddr::Unix(path) => path.display().to_string(),
        }
    }
}

/// `1|5|NETWORK|ADDRESS|grpc|CERT`, without the newline. The certificate is DER in standard
/// base64 *without padding* (Go's `RawStdEncoding`: padded base64 makes the host fail), empty
/// when serving plaintext. Exactly six fields: old hosts split on the first five bars.
pub fn handshake_line(addr: &ListenAddr, server_cert_der: Option<&[u8]>) -> String {
    let cert = server_cert_der
        .map(|der| STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!(
        "{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|{}|{}|grpc|{cert}",
        addr.network(),
        addr.address()
    )
}

/// The JSON value of `TF_REATTACH_PROVIDERS` for an unmanaged (debug) provider. `Test: true`
/// keeps Terraform from sending Shutdown or killing the process between commands.
pub fn reattach_json(provider_address: &str, pid: u32, addr: &ListenAddr) -> String {
    let mut providers = serde_json::Map::new();
    providers.insert(
        provider_address.to_owned(),
        serde_json::json!({
            "Protocol": "grpc",
            "ProtocolVersion": APP_PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": addr.network(), "String": addr.address() },
        }),
    );
    serde_json::Value::Object(providers).to_string()
}

/// The human text printed on stdout in debug mode.
pub fn debug_banner(provider_address: &str, pid: u32, addr: &ListenAddr) -> String {
    let json = reattach_json(provider_address, pid, addr);
    format!(
        "Provider {provider_address} started in debug mode (plaintext gRPC on {}).\n\
         To attach Terraform or OpenTofu, set this variable in the shell that runs them:\n\
         \n\
         \tTF_REATTACH_PROVIDERS='{json}'\n\
         \n\
         Press Ctrl-C to stop the provider.\n",
        addr.address()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_line_has_six_fields_and_empty_cert() {
        let addr = ListenAddr::Tcp("127.0.0.1:40907".parse().unwrap());
        assert_eq!(handshake_line(&addr, None), "1|5|tcp|127.0.0.1:40907|grpc|");
    }

    #[test]
    fn cert_is_unpadded_standard_base64() {
        let addr = ListenAddr::Tcp("127.0.0.1:1".parse().unwrap());
        // 1 byte would need "==" padding; 3 bytes with + and / show the standard alphabet.
        assert!(handshake_line(&addr, Some(&[0xfb])).ends_with("|+w"));
        assert!(handshake_line(&addr, Some(&[0xfb, 0xff, 0xbf])).ends_with("|+/+/"));
        let fields: Vec<_> = handshake_line(&addr, Some(&[1, 2, 3, 4]))
            .split('|')
            .map(str::to_owned)
            .collect();
        assert_eq!(fields.len(), 6);
    }

    #[test]
    fn unix_line_names_the_socket() {
        let addr = ListenAddr::Unix("/tmp/plugin123".into());
        assert_eq!(handshake_line(&addr, None), "1|5|unix|/tmp/plugin123|grpc|");
    }

    #[test]
    fn reattach_json_matches_terraforms_shape() {
        let addr = ListenAddr::Tcp("127.0.0.1:40907".parse().unwrap());
        let json: serde_json::Value = serde_json::from_str(&reattach_json(
            "registry.terraform.io/hostup/hostup",
            42,
            &addr,
        ))
        .unwrap();
        let entry = &json["registry.terraform.io/hostup/hostup"];
        assert_eq!(entry["Protocol"], "grpc");
        assert_eq!(entry["ProtocolVersion"], 5);
        assert_eq!(entry["Pid"], 42);
        assert_eq!(entry["Test"], true);
        assert_eq!(entry["Addr"]["Network"], "tcp");
        assert_eq!(entry["Addr"]["String"], "127.0.0.1:40907");
    }
}
