"""Bronze → silver for mobile-user-analytics: parsing, pseudonymisation, sessions, screen views."""
