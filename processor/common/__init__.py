"""Shared ground: workspace config, paths, safe file writes, periods, the rulebook, Chinese formatting, logging, the workspace lock."""
