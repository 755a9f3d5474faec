"""Local stand-ins for the outside world: an OpenBao server and a GitHub Actions OIDC issuer.

Both listen on 127.0.0.1 only. The test harness uses them as fixtures; the main job uses them
as long-lived local services (``start_detached`` and ``python -m llm_vault.local.oidc_issuer``).
"""
