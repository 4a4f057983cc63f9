"""The four agents: niche research, solution design, monetization and marketing."""
