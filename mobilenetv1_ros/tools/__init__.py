"""Developer tools: benchmarks of the node and of the pipeline."""
