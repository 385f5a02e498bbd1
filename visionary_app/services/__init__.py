"""Plain async Python behind the UI: providers, blob stores, the catalog and the pipeline."""
