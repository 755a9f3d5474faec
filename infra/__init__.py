"""The llm-vault Pulumi program: typed config (``config``), one component per Vault
concern (``components``) and the wiring (``program.main``)."""
