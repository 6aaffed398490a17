"""Evaluations against the labelled public datasets in ``$DATASETS`` (never bundled with the project)."""
