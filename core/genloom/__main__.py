"""``python -m genloom`` runs the command line."""

from genloom.cli import main

main()
