"""scipy rules (placeholder)."""
