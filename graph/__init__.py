"""The document: layer catalog, graph model, validation and project files (no Qt, no torch)."""
