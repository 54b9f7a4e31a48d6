"""Loads the fixtures the suite stands on (fixtures/), so that a clone run with plain ``pytest`` and the
installed plugin behave the same. The plugin itself (options, hooks) comes from the ``pytest11``
entry point of ``pip install -e .``; nothing is registered twice."""

pytest_plugins = ("fixtures.cluster", "fixtures.addons", "fixtures.checks", "fixtures.load")
