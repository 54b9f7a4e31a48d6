"""Deploying the stack: the one door that writes to a cluster, and what it applies.

``pins`` downloads upstream files and tools once, pinned by URL and sha256, into a cache;
``apply`` is the writing door (server-side apply, waits), the only module that may write;
``plan`` turns ``manifests/`` into the steps of each layer; ``kind`` creates and deletes kind
clusters with a pinned kind. Nothing here is imported by the suite's reading side.
"""
