"""The data wing of ``shared``."""
