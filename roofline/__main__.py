"""``python -m roofline`` runs the command-line tool."""

from roofline.cli import main

main()
