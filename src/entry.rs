//! The process entry point every provider binary shares (the HostUp binary and the test providers
//! under `examples/`): parse the flags, refuse politely when a person rather than Terraform runs
//! the binary, start logging on stderr, and serve the provider over the go-plugin transport.
//! Stdout belongs to the handshake line. The one flag is parsed by hand: an argument parser
//! library cost the binary ~0.2 MB of code that every plan maps into memory.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::framework::Provider;
use crate::tfplugin5::ProviderService;
use crate::{logging, plugin};

/// Blocking tasks still running after the server stops get this long before the runtime drops.
const RUNTIME_SHUTDOWN_BOUND: Duration = Duration::from_millis(200);

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Invocation {
    /// Serve the provider; `debug` is `--debug`: plaintext on 127.0.0.1 for a debugger, print
    /// the `TF_REATTACH_PROVIDERS` value to use, stop with Ctrl-C.
    Serve { debug: bool },
    /// `--help` or `--version`: print this on stdout and exit successfully.
    Print(String),
    /// A usage error: print this on stderr and exit with status 2.
    Refuse(String),
}

fn usage(bin: &str) -> String {
    format!("Usage: {bin} [OPTIONS]")
}

fn help(bin: &str) -> String {
    format!(
        "{about}\n\n{usage}\n\nOptions:\n      --debug    Serve plaintext on 127.0.0.1 for a \
         debugger and print the TF_REATTACH_PROVIDERS value to use; stop with Ctrl-C\n  \
         -h, --help     Print help\n  -V, --version  Print version\n\nTerraform starts this binary \
         itself; run it by hand only with --debug.\n",
        about = env!("CARGO_PKG_DESCRIPTION"),
        usage = usage(bin),
    )
}

/// Parses the arguments after the program name. `--help`/`--version` win as soon as they are
/// seen, as is usual for command-line tools.
fn parse_args(args: impl IntoIterator<Item = OsString>, bin: &str) -> Invocation {
    let mut debug = false;
    for arg in args {
        match arg.to_str() {
            Some("--debug") => debug = true,
            Some("-h" | "--help") => return Invocation::Print(help(bin)),
            Some("-V" | "--version") => {
                return Invocation::Print(format!("{bin} {}\n", crate::VERSION))
            }
            _ => {
                return Invocation::Refuse(format!(
                    "error: unexpected argument '{}' found\n\n{}\n\nFor more information, try \
                     '--help'.\n",
                    arg.to_string_lossy(),
                    usage(bin)
                ))
            }
        }
    }
    Invocation::Serve { debug }
}

/// Runs `provider` as a Terraform plugin registered at `provider_address`
/// (`registry.terraform.io/hostup/hostup`) and returns the process exit code.
pub fn serve_main(provider: Arc<dyn Provider>, provider_address: &str) -> ExitCode {
    match run(provider, provider_address) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}: error: {err:#}", binary_name());
            ExitCode::FAILURE
        }
    }
}

fn run(provider: Arc<dyn Provider>, provider_address: &str) -> anyhow::Result<ExitCode> {
    let debug = match parse_args(std::env::args_os().skip(1), &binary_name()) {
        Invocation::Serve { debug } => debug,
        Invocation::Print(text) => {
            print!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        Invocation::Refuse(text) => {
            eprint!("{text}");
            return Ok(ExitCode::from(2));
        }
    };
    if !debug && !plugin::env::has_magic_cookie(&plugin::process_env()) {
        eprint!("{}", not_a_plugin_launch(provider_address));
        return Ok(ExitCode::FAILURE);
    }
    logging::init();

    let options = plugin::ServeOptions {
        provider_address: provider_address.to_owned(),
        debug,
    };
    // One thread runs every task: the provider waits on Terraform and HostUp, not on the CPU,
    // and nothing in it blocks a task (DNS lookups go to tokio's blocking pool). A worker per
    // core would add a thread stack and a malloc arena each (issue 5).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let service = ProviderService::new(provider).into_server();
        plugin::serve(service, options).await
    });
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_BOUND);
    result?;
    Ok(ExitCode::SUCCESS)
}

fn binary_name() -> String {
    std::env::args()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "terraform-provider".to_owned())
}

/// What a person who ran the binary by hand needs to know.
fn not_a_plugin_launch(provider_address: &str) -> String {
    let source = provider_address
        .strip_prefix("registry.terraform.io/")
        .unwrap_or(provider_address);
    let local = source.rsplit('/').next().unwrap_or(source);
    format!(
        "\
This binary is a plugin for Terraform and OpenTofu: the provider {source}.
It is not meant to be run directly; Terraform starts it and talks to it over gRPC.

To use it, either:
  * declare it in your configuration and run `terraform init` (or `tofu init`):
        terraform {{
          required_providers {{
            {local} = {{ source = \"{source}\" }}
          }}
        }}
  * or, from a source checkout, run `make install` to put it where Terraform looks for
    local providers, then `terraform init`;
  * or, while developing, point a dev_overrides block in ~/.terraformrc (or the file named by
    TF_CLI_CONFIG_FILE) at the directory holding this binary:
        provider_installation {{
          dev_overrides {{ \"{provider_address}\" = \"/path/to/dir\" }}
          direct {{}}
        }}
  * or run it with --debug and export the TF_REATTACH_PROVIDERS line it prints.
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Invocation {
        parse_args(args.iter().map(OsString::from), "terraform-provider-hostup")
    }

    #[test]
    fn command_line_selects_serve_debug_help_version_or_a_usage_error() {
        assert_eq!(parse(&[]), Invocation::Serve { debug: false });
        assert_eq!(parse(&["--debug"]), Invocation::Serve { debug: true });
        let Invocation::Print(help) = parse(&["--debug", "-h"]) else {
            panic!("help expected")
        };
        assert!(
            help.contains("Usage: terraform-provider-hostup [OPTIONS]"),
            "{help}"
        );
        assert!(help.contains("--debug"), "{help}");
        assert_eq!(
            parse(&["-V"]),
            Invocation::Print(format!("terraform-provider-hostup {}\n", crate::VERSION))
        );
        for bad in ["--bogus", "serve", "--debug=true"] {
            let Invocation::Refuse(text) = parse(&[bad]) else {
                panic!("{bad} must be refused")
            };
            assert!(
                text.contains(&format!("unexpected argument '{bad}'")),
                "{text}"
            );
        }
    }

    #[test]
    fn hand_run_message_names_the_provider_and_its_override_key() {
        let text = not_a_plugin_launch("registry.terraform.io/hostup/hostup");
        assert!(
            text.contains("hostup = { source = \"hostup/hostup\" }"),
            "{text}"
        );
        assert!(text.contains("\"registry.terraform.io/hostup/hostup\" = \"/path/to/dir\""));
    }
}
