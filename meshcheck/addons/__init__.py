"""Add-on clients: parse what Prometheus, Kiali, Jaeger/Zipkin, Grafana and the storefront answer."""
