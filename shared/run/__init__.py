"""The run wing of ``shared``."""
