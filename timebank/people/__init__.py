"""People: communities, members and their roles."""
