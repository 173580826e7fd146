"""The job store: API keys, datasets, runs, events and artifacts in a relational database."""
