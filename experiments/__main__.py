"""``python -m experiments`` runs the ``boundlab`` CLI."""

from .cli import main

raise SystemExit(main())
