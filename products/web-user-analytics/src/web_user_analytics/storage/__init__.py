"""Where web-user-analytics keeps its tables."""
