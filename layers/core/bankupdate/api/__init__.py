"""HTTP API: request/response models and the resolver setup shared by the HTTP functions."""
