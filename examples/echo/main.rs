//! The echo test provider: a provider with no API behind it whose resource and data source hand
//! back what they are given, one attribute per value type. It exists to prove the protocol layer
//! (codec, plan rules, diagnostics, Stop) under real Terraform, separately from HostUp.

mod provider;

use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    terraform_provider_hostup::serve_main(
        Arc::new(provider::EchoProvider),
        provider::PROVIDER_ADDRESS,
    )
}
