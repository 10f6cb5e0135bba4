//! The `terraform-provider-hostup` binary: parse the few flags, refuse politely when a person
//! rather than Terraform runs it, start logging on stderr, and hand the provider service to the
//! go-plugin transport. Stdout belongs to the handshake line.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use terraform_provider_hostup::{logging, plugin};

/// The provider's registry address, as users write it in `required_providers`.
const PROVIDER_ADDRESS: &str = "registry.terraform.io/hostup/hostup";

/// Blocking tasks still running after the server stops get this long before the runtime drops.
const RUNTIME_SHUTDOWN_BOUND: Duration = Duration::from_millis(200);

const NOT_A_PLUGIN_LAUNCH: &str = "\
This binary is a plugin for Terraform and OpenTofu: the HostUp provider (hostup/hostup).
It is not meant to be run directly; Terraform starts it and talks to it over gRPC.

To use it, either:
  * declare it in your configuration and run `terraform init` (or `tofu init`):
        terraform {
          required_providers {
            hostup = { source = \"hostup/hostup\" }
          }
        }
  * or, from a source checkout, run `make install` to put it where Terraform looks for
    local providers, then `terraform init`;
  * or, while developing, point a dev_overrides block in ~/.terraformrc (or the file named by
    TF_CLI_CONFIG_FILE) at the directory holding this binary:
        provider_installation {
          dev_overrides { \"registry.terraform.io/hostup/hostup\" = \"/path/to/dir\" }
          direct {}
        }
  * or run it with --debug and export the TF_REATTACH_PROVIDERS line it prints.
";

/// Terraform / OpenTofu provider for the HostUp VPS API (plugin protocol 5).
///
/// Terraform starts this binary itself; run it by hand only with --debug.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// Serve plaintext on 127.0.0.1 for a debugger and print the TF_REATTACH_PROVIDERS value to
    /// use; stop with Ctrl-C.
    #[arg(long)]
    debug: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("terraform-provider-hostup: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    if !args.debug && !plugin::env::has_magic_cookie(&plugin::process_env()) {
        eprint!("{NOT_A_PLUGIN_LAUNCH}");
        return Ok(ExitCode::FAILURE);
    }
    logging::init();

    let options = plugin::ServeOptions {
        provider_address: PROVIDER_ADDRESS.to_owned(),
        debug: args.debug,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        // ── PROVIDER SERVICE: the one line to change at merge, e.g.
        // `tonic::service::Routes::new(tfplugin5::ProviderService::new(..))` (with 256 MiB limits).
        let provider_routes = tonic::service::Routes::default();
        plugin::serve_routes(provider_routes, options).await
    });
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_BOUND);
    result?;
    Ok(ExitCode::SUCCESS)
}
