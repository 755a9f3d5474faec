"""One ComponentResource per Vault concern. Each takes typed settings and a provider
backend (the seam), and declares its objects as children."""
