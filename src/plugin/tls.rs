//! go-plugin's "auto-mTLS", server side: a fresh self-signed certificate per launch (announced in
//! the handshake line) and a client verifier that pins the exact certificate the host passed in
//! `PLUGIN_CLIENT_CERT`.
//!
//! Why not rustls' `WebPkiClientVerifier`: Terraform's client certificate is a self-signed
//! ECDSA P-521 certificate with CA:true, which webpki refuses as an end entity
//! (`CaUsedAsEndEntity`). Pinning the DER is stricter than chain building anyway: exactly one
//! certificate, minted by the host for this launch, is accepted. Handshake signatures are
//! checked with the aws-lc-rs provider, which (unlike *ring*) verifies P-521.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};

/// go-plugin's own server certificates live for about 30 years; the process lives minutes.
const CERT_LIFETIME: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);
/// Backdating absorbs clock skew between the host's check and our generation.
const CERT_BACKDATE: Duration = Duration::from_secs(30);

/// The server's identity for one launch.
pub struct ServerIdentity {
    /// DER of the self-signed certificate; goes into the handshake line.
    pub cert_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
}

impl std::fmt::Debug for ServerIdentity {
    // The private key stays out of every Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("cert_der_len", &self.cert_der.len())
            .finish_non_exhaustive()
    }
}

/// Mints a certificate shaped like go-plugin's: SAN `localhost`, CA:true, usable for server and
/// client auth, valid from 30 s ago for decades, ECDSA P-256.
pub fn generate_server_identity() -> anyhow::Result<ServerIdentity> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName as Dn, DnType,
        ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    };

    let key =
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating the TLS server key")?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()])
        .context("building the TLS server certificate")?;
    let mut dn = Dn::new();
    dn.push(DnType::CommonName, "localhost");
    dn.push(DnType::OrganizationName, "terraform-provider-hostup");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = SystemTime::now();
    params.not_before = (now - CERT_BACKDATE).into();
    params.not_after = (now + CERT_LIFETIME).into();
    let cert = params
        .self_signed(&key)
        .context("self-signing the TLS server certificate")?;
    Ok(ServerIdentity {
        cert_der: cert.der().clone(),
        key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
    })
}

/// A rustls server configuration that demands one of `client_certs`, negotiates ALPN `h2`
/// (grpc-go ≥ 1.67, in Terraform ≥ 1.12, refuses TLS without it) and speaks TLS 1.2 and 1.3.
pub fn server_config(
    identity: &ServerIdentity,
    client_certs: Vec<CertificateDer<'static>>,
) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedClientCert::new(
        client_certs,
        provider.signature_verification_algorithms,
    ));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("choosing TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![identity.cert_der.clone()],
            PrivateKeyDer::Pkcs8(identity.key_der.clone_key()),
        )
        .context("installing the TLS server certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Accepts a client only if its leaf certificate is byte-for-byte one of the pinned ones.
#[derive(Debug)]
pub struct PinnedClientCert {
    pinned: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClientCert {
    /// Pins `certs`, verifying handshake signatures with `algorithms` (take them from the
    /// aws-lc-rs [`CryptoProvider`] so P-521 works).
    pub fn new(certs: Vec<CertificateDer<'static>>, algorithms: WebPkiSupportedAlgorithms) -> Self {
        Self {
            pinned: certs,
            algorithms,
        }
    }

    /// The same verifier with the default aws-lc-rs algorithms.
    pub fn with_default_algorithms(certs: Vec<CertificateDer<'static>>) -> Self {
        let provider: CryptoProvider = rustls::crypto::aws_lc_rs::default_provider();
        Self::new(certs, provider.signature_verification_algorithms)
    }
}

impl ClientCertVerifier for PinnedClientCert {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    // An empty hint list makes Go's client send its certificate without matching issuers.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|pinned| pinned.as_ref() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_advertises_p521_for_terraforms_client_cert() {
        let verifier = PinnedClientCert::with_default_algorithms(vec![]);
        assert!(verifier
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
        assert!(verifier.client_auth_mandatory());
    }

    #[test]
    fn only_the_pinned_certificate_passes() {
        let a = generate_server_identity().unwrap().cert_der;
        let b = generate_server_identity().unwrap().cert_der;
        let verifier = PinnedClientCert::with_default_algorithms(vec![a.clone()]);
        let now = UnixTime::now();
        assert!(verifier.verify_client_cert(&a, &[], now).is_ok());
        assert!(verifier.verify_client_cert(&b, &[], now).is_err());
        assert!(verifier
            .verify_client_cert(&CertificateDer::from(vec![0x30, 0x00]), &[], now)
            .is_err());
    }

    #[test]
    fn server_config_negotiates_h2_only() {
        let identity = generate_server_identity().unwrap();
        let client = identity.cert_der.clone();
        let config = server_config(&identity, vec![client]).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn each_launch_gets_a_fresh_certificate() {
        let a = generate_server_identity().unwrap();
        let b = generate_server_identity().unwrap();
        assert_ne!(a.cert_der, b.cert_der);
        assert!(
            format!("{a:?}").len() < 100,
            "Debug must not dump key material"
        );
    }
}
