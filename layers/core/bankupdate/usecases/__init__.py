"""One module per use case. Each composes the pure domain with the adapters it is handed (see ``services``)."""
