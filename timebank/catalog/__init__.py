"""The service catalog: what help a community offers, and how long it takes."""
