"""Moved to ``ai_models.entrypoints.protocol``; kept until the last backend stops importing it."""

from ai_models.entrypoints.protocol import (  # noqa: F401
    ChatCompletionRequest,
    ClassificationRequest,
    CompletionRequest,
    EmbeddingRequest,
)
