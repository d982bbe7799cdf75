"""``python -m mailstudy`` runs the command line."""

from mailstudy.cli import main

main()
