"""AI Models Service: model registry, backends and an OpenAI-compatible server."""
