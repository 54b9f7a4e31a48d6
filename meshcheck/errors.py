"""Errors a user can act on.

Every error here is shown as a single line without a traceback: it names what was tried, what
happened, and what to do. Anything else escaping the suite is a bug in the suite.
"""


class SuiteError(Exception):
    """A problem outside the suite's control that the user must fix (input, cluster, add-on)."""


class ConfigError(SuiteError):
    """The kubeconfig, context, profile or a command-line option cannot be used."""


class ClusterError(SuiteError):
    """The Kubernetes API server could not be reached or answered with an error."""


class ForbiddenError(ClusterError):
    """The API server refused a read to the kubeconfig's user (403): a permission is missing."""


class AddonError(SuiteError):
    """An add-on (Kiali, Jaeger, Zipkin, Grafana, Prometheus, the storefront) answered badly."""


class DeployError(SuiteError):
    """A layer could not be deployed: a download, a checksum, an apply or a rollout that did not finish."""

