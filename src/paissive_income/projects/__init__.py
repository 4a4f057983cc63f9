"""Projects: a user's market segments and notes, the input of the agent team."""
