"""`python -m carelake` runs the CLI."""

from carelake.cli import main

main()
