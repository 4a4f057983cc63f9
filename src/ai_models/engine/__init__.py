"""Inference machinery: generation engine, dynamic batcher, sampling and grammars."""
