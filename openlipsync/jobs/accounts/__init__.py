"""API keys and their credit balances: who may call, and what they have left to spend."""
