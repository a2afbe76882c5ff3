"""Premium domain."""
