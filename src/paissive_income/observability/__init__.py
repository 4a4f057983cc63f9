"""Logging, request ids, Prometheus metrics and health checks shared by every service."""
