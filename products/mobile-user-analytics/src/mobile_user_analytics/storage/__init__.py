"""Table definitions of mobile-user-analytics."""
