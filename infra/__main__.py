"""Entry point for `pulumi up` with the official CLI. On machines without the Python
language plugin, `llm-vault up` runs the same function through the Automation API."""

from infra.program import main

main()
