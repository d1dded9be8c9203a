"""The headless watcher: transitions between sweeps, Prometheus metrics, notifications."""
