"""The Vault provider layer: typed object records (``args``), the backend seam
(``backend``), our dynamic providers over hvac (``builtin``) and the official
``pulumi_vault`` alternative (``official``)."""
