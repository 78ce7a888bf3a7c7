"""The model wing of ``shared``."""
