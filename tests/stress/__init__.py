"""Stress tests: crash loop, fault soak, bad input tried on purpose, security."""
