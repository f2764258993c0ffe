"""One module per dashboard page: `PATH`, `NAME`, `layout(**query)` and `register(app)`."""
