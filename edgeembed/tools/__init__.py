"""Device tools beside embedding: doctor, tune, profile, corpus embedding and the serve load test."""
