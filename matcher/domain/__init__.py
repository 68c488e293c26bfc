"""The domain's records, closed vocabularies and errors: what every other part speaks."""
