"""The ``linkport`` command line: the composition root that starts gateways, workers and dev setups."""
