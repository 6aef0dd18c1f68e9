"""The demo team: ``python -m letta_actors.demo`` runs the content team through the daemon."""
