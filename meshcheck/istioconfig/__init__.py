"""Questions asked of Istio's configuration objects, answered as Istio itself answers them.

Which PeerAuthentication decides a workload's mTLS mode (``peerauth``), which Services a host of a
DestinationRule names and which DestinationRules apply to a Service (``hosts``), whether the
AuthorizationPolicies let a caller's identity in (``authz``). Pure functions over the plain dicts the
API returns, shared by the checks, each citing the Istio source it follows.
"""
