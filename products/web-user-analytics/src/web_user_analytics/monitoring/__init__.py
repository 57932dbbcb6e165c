"""Checks that the product's data adds up."""
