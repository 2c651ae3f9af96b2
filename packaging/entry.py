"""The frozen app's entry point (``build.spec`` freezes this, not ``desktop/__main__``).

``multiprocessing.freeze_support()`` must run before anything else: the check engine
runs in a *spawned* child process, and in a frozen app that child is this same
executable started with ``--multiprocessing-fork``. Without it the child would parse
those arguments as the app's own and open a second window instead of checking.
"""

import multiprocessing
import sys


def run() -> int:
    multiprocessing.freeze_support()  # returns only in the parent process
    from desktop.__main__ import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
