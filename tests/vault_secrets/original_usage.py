"""The original setup document's two usage examples for the model runner, as its readers copied them.

The original document is not in this repository: this is a reconstruction from issue 15 and from
the client's docstrings, call for call (``VaultSecretManager()`` from the environment,
``get_api_key('huggingface')`` into ``HF_TOKEN``, ``get_api_key('openai')``, print and re-raise on
failure; ``read_secret('api-keys')`` into ``HUGGINGFACE_TOKEN``). Only the import line is ours:
the original defined ``VaultSecretManager`` in the same file. Do not "fix" this code: it is the
contract ``tests/vault_secrets/test_original_usage.py`` holds the client to.
"""

import os

from vault_secrets import VaultSecretManager


# Usage example for model_runner
def get_model_credentials():
    """Retrieve model API credentials from Vault."""
    try:
        vault = VaultSecretManager()

        # Get HuggingFace token
        hf_token = vault.get_api_key("huggingface")
        os.environ["HF_TOKEN"] = hf_token

        # Get other API keys as needed
        openai_key = vault.get_api_key("openai")

        return {"huggingface": hf_token, "openai": openai_key}
    except Exception as e:
        print(f"Failed to retrieve credentials from Vault: {e}")
        raise


async def initialize_model_with_vault():
    """Initialize model with credentials from Vault."""
    vault = VaultSecretManager()

    # Retrieve API credentials
    credentials = vault.read_secret("api-keys")

    # Set environment variables for model libraries
    os.environ["HUGGINGFACE_TOKEN"] = credentials.get("huggingface_token", "")

    # Initialize model with secured credentials
    print("Model initialized with Vault-managed credentials")
