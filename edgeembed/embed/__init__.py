"""The embedding path on the device: tokenize, pack, run the backend, pool, and the outputs
(dense heads, projection, precision codes), with caches, prompts and tuned settings."""
