"""The simulated cluster: a real HTTP server speaking the Kubernetes API and the add-ons' formats."""
