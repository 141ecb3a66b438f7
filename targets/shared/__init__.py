"""Code shared by both targets: endpoints, error classification, settings."""
