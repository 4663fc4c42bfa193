"""Run botistat as ``python -m botistat``."""

from botistat.cli.app import main

main()
