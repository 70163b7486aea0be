"""Placards, check-in and check-out, and verified visits that credit hours."""
