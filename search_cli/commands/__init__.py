"""One module per command group; each imports only what its commands need."""
