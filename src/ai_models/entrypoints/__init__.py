"""The OpenAI-compatible serving layer, shaped like vLLM's entrypoints.

``protocol`` holds the wire types and their conversion into model calls; one ``serving_*`` module
per endpoint owns request -> model -> response or stream; ``serving_engine`` holds what they
share (JSON and server-sent events, usage, finish metrics, the relay to remote engines). Backends
below know nothing of OpenAI's formats.
"""
