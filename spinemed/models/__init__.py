"""Model helpers (tiny offline test model)."""
