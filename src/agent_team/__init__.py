"""Agent Team Service: the agents that turn a market segment into a product plan."""
