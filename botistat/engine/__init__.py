"""Engines that run the metric core over inputs: in memory or spilled to partitions."""
