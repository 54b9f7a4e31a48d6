"""Simulated add-on handlers: Kiali, Jaeger, Zipkin, Prometheus, Grafana, each in its real format."""
