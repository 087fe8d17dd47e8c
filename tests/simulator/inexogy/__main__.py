"""Serve the fake inexogy cloud: ``python -m tests.simulator.inexogy --help``."""

from .cli import main

if __name__ == "__main__":
    main()
