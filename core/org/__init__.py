"""Org tree: district roots → township → village/community → grid, and departments at centers."""
