"""The serving wing of ``shared``."""
