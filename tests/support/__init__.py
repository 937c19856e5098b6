"""Helpers shared by the test layers (unit, integration, e2e); no tests live here."""
