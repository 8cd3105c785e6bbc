"""The ``lightxfer`` command: thin argparse subcommands over the public functions."""
