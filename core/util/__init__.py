"""Small dependency-free helpers with one job each: ARNs, times, untrusted text."""
