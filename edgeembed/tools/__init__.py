"""Device tools beside embedding: doctor, tune, corpus embedding and the serve load test."""
