"""Run botistat as ``python -m botistat``."""

from botistat.cli.app import main

# Guarded: the worker processes of a local Dask cluster are spawned, and import this module
# again (as ``__mp_main__``); they must not run the command a second time.
if __name__ == "__main__":
    main()
