"""pAIssive Income: an AI agent team that turns a market segment into a product plan."""

__version__ = "0.1.0"
