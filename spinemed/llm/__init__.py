"""Generation backends: OpenAI-compatible endpoints and the offline rules, behind one client."""
