"""Tooling around the llm-vault Pulumi program: toolchain paths, the Vault provider layer,
the local OpenBao/OIDC harness, the Automation API entry point and the preview renderer."""
