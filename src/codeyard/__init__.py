"""codeyard: a self-hosted project environment server on Trac 1.6-compatible storage."""

__version__ = "0.1.0"
