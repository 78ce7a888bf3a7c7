"""The monitoring wing of ``shared``."""
