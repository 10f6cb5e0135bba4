//! The `terraform-provider-hostup` binary: the HostUp provider handed to the shared entry point,
//! which checks the launch, starts logging on stderr and serves it over the go-plugin transport.

use std::process::ExitCode;
use std::sync::Arc;

use terraform_provider_hostup::hostup::HostupProvider;

/// The provider's registry address, as users write it in `required_providers`.
const PROVIDER_ADDRESS: &str = "registry.terraform.io/hostup/hostup";

fn main() -> ExitCode {
    terraform_provider_hostup::serve_main(Arc::new(HostupProvider::new()), PROVIDER_ADDRESS)
}
