"""The scale wing of ``shared``."""
