"""``python -m edgeembed.cli``."""

from edgeembed.cli.app import main

main()
