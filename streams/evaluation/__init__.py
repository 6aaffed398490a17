"""Offline evaluations on the public datasets in ../shared/datasets (never bundled). Run with `make eval-*`."""
