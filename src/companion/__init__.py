"""Course Companion."""
