"""Pairings (困困结对): a helper serving a resident under a visit plan."""
