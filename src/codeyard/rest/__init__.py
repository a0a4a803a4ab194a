"""The JSON REST API under /api/v1: dispatcher, OpenAPI document, API tokens."""
