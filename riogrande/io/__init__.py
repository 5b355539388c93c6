"""Raster input and output: models, dataset handles, checks, exceptions."""
