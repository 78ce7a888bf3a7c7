"""The deploy wing of ``shared``."""
