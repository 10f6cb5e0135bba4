# Entry points; each target is a thin wrapper over a script in scripts/.
.PHONY: test tools demo install release

## test: fmt check, clippy, the pinned Terraform/OpenTofu and release tools, build, every test (what CI runs)
test:
	scripts/test.sh

## tools: install the pinned Terraform and OpenTofu CLIs into .tools/ only
tools:
	scripts/install-terraform.sh
	scripts/install-tofu.sh

## demo: build, start hostup-sim with the example fixture, apply examples/quickstart, show the result
##       (HOSTUP_CLI=tofu runs it with OpenTofu)
demo:
	scripts/demo.sh

## install: build the provider (release) and install it where `terraform init` and `tofu init` find hostup/hostup
install:
	scripts/install-provider.sh

## release: build linux_amd64 and linux_arm64 (static, musl), darwin_amd64 and darwin_arm64, and
## windows_amd64 (Debian's Rust with -Zbuild-std, zig as the linker) and write dist/: the registry
## release files and network/filesystem mirrors for Terraform and OpenTofu.
## VERSION=x.y.z (default: Cargo.toml), TARGETS="rust-target ...", HOSTUP_RELEASE_GPG_KEY=fingerprint
release:
	VERSION="$(VERSION)" TARGETS="$(TARGETS)" scripts/release.sh
