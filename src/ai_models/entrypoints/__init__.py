"""The OpenAI-compatible serving layer, shaped like vLLM's entrypoints.

``protocol`` holds the wire types and their conversion into model calls; one ``serving_*`` module
per endpoint owns request -> model -> response or stream; ``responses`` encodes JSON and
server-sent events. Backends below know nothing of OpenAI's formats.
"""
