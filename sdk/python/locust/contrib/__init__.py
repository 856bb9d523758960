"""Locust's contrib package: `fasthttp` is here."""
