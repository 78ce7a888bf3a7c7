"""The core wing of ``shared``."""
