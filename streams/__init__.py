"""newsstream: a Faust stream processor that validates, deduplicates and enriches news articles."""
