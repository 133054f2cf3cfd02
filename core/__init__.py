"""paygate core: the payment domain and its AWS adapters. Knows nothing of Lambda events."""
