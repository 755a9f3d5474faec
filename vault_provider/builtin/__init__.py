"""The ``builtin`` provider backend: Pulumi dynamic providers over hvac, one module per Vault concern.

``BuiltinBackend`` (in ``backend``) maps each record of ``vault_provider.args`` to its resource
class; connection and adoption settings are described in ``_client``, the shared CRUD rules
in ``_provider``.
"""
