//! Property tests for the plugin environment parser: whatever a host (or a hostile shell) puts
//! in the variables, parsing answers Ok or Err and never panics, and an Ok result keeps the
//! promises the transport relies on.
//!
//! The default run is quick. For a long soak:
//! `PLUGIN_ENV_FUZZ_CASES=2000000 cargo test --test integration plugin_env_props:: -- --ignored`.

use std::collections::HashMap;

use proptest::prelude::*;
use terraform_provider_hostup::plugin::env::{self, EnvError};

const KEYS: &[&str] = &[
    env::MAGIC_COOKIE_KEY,
    env::PROTOCOL_VERSIONS_KEY,
    env::MIN_PORT_KEY,
    env::MAX_PORT_KEY,
    env::CLIENT_CERT_KEY,
    env::UNIX_SOCKET_DIR_KEY,
];

/// Values that are sometimes right, sometimes nearly right, sometimes noise.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(env::MAGIC_COOKIE_VALUE.to_owned()),
        Just("5,6".to_owned()),
        "[0-9, ]{0,12}",
        "-?[0-9]{1,7}",
        "(-----BEGIN CERTIFICATE-----\n)?[A-Za-z0-9+/=\n]{0,200}(-----END CERTIFICATE-----\n)?",
        ".{0,64}",
        any::<String>(),
    ]
}

fn vars() -> impl Strategy<Value = HashMap<String, String>> {
    let known = proptest::collection::vec(
        (proptest::sample::select(KEYS), value()).prop_map(|(k, v)| (k.to_owned(), v)),
        0..8,
    );
    let unknown = proptest::collection::vec((".{0,16}", value()), 0..3);
    (known, unknown, any::<bool>()).prop_map(|(known, unknown, with_cookie)| {
        let mut map: HashMap<String, String> = unknown.into_iter().chain(known).collect();
        if with_cookie {
            map.insert(env::MAGIC_COOKIE_KEY.into(), env::MAGIC_COOKIE_VALUE.into());
        }
        map
    })
}

fn check(vars: &HashMap<String, String>) -> Result<(), TestCaseError> {
    match env::parse(vars) {
        Ok(parsed) => {
            prop_assert!(env::has_magic_cookie(vars));
            prop_assert!(parsed.ports.min <= parsed.ports.max);
            if let Some(certs) = &parsed.client_certs {
                prop_assert!(!certs.is_empty());
            }
            if let Some(offered) = vars
                .get(env::PROTOCOL_VERSIONS_KEY)
                .filter(|v| !v.is_empty())
            {
                prop_assert!(offered.split(',').any(|v| v.trim().parse::<u32>() == Ok(5)));
            }
        }
        Err(EnvError::NotLaunchedByHost) => prop_assert!(!env::has_magic_cookie(vars)),
        Err(err) => prop_assert!(!err.to_string().is_empty()),
    }
    Ok(())
}

proptest! {
    #[test]
    fn parser_never_panics(vars in vars()) {
        check(&vars)?;
    }
}

#[test]
#[ignore = "long soak; set PLUGIN_ENV_FUZZ_CASES"]
fn parser_never_panics_long() {
    let cases = std::env::var("PLUGIN_ENV_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
    runner.run(&vars(), |vars| check(&vars)).unwrap();
}
