# Entry points; each target is a thin wrapper over a script in scripts/.
.PHONY: test tools

## test: install pinned Terraform, then fmt check, clippy, build and every test (what CI runs)
test:
	scripts/test.sh

## tools: install the pinned Terraform CLIs into .tools/ only
tools:
	scripts/install-terraform.sh
