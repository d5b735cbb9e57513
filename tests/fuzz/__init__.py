"""Property-based (hypothesis) tests of the parsers that take outside input."""
