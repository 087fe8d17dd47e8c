"""Serve the fake READY cloud: ``python -m tests.simulator.ready --help``."""

from .cli import main

if __name__ == "__main__":
    main()
