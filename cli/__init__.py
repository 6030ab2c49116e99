"""The ``duban`` console script."""
