"""``python -m linkport``."""

from linkport.cli import main

main()
